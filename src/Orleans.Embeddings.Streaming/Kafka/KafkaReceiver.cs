using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Orleans.Embeddings.Streaming.DeadLetters;
using Orleans.Embeddings.Streaming.Delivery;
using Orleans.Providers.Streams.Common;
using Orleans.Streams;

namespace Orleans.Embeddings.Streaming.Kafka;

/// <summary>
/// Reads one topic partition for the pulling agent that owns it. The partition is assigned by Orleans' queue
/// balancer (<c>Assign</c>, not a group subscription); the offset is committed only up to the highest contiguous
/// acknowledged offset; poison events go to the dead-letter table so the commit point keeps moving.
/// </summary>
internal sealed partial class KafkaReceiver(
    string provider, int partition, KafkaStreamOptions options, DeadLetterStore deadLetters, TimeSpan maxDeliveryTime, ILogger logger) : DocumentQueueReceiver
{
    private readonly DocumentEventDecoder _decoder = new(options.Limits);
    private readonly Lock _lock = new();
    private readonly Dictionary<long, (string? Key, byte[] Payload, long ReadAt)> _inFlight = [];
    private IConsumer<string?, byte[]>? _consumer;
    private TopicPartition _topicPartition = null!;
    private ContiguousOffsetTracker _tracker = null!;
    private long _committed;

    public override async Task Initialize(TimeSpan timeout)
    {
        _topicPartition = new TopicPartition(options.Topic, new Partition(partition));
        var consumer = new ConsumerBuilder<string?, byte[]>(KafkaClientConfig.Consumer(options))
            .SetErrorHandler((_, error) => LogKafkaError(logger, provider, partition, error.Reason))
            .Build();
        try
        {
            var start = await Task.Run(() =>
            {
                var committed = consumer.Committed([_topicPartition], options.MetadataTimeout);
                var offset = committed.Count == 1 ? committed[0].Offset : Offset.Unset;
                return offset.IsSpecial ? 0L : offset.Value;
            });
            if (start == 0)
            {
                var watermarks = await Task.Run(() => consumer.QueryWatermarkOffsets(_topicPartition, options.MetadataTimeout));
                start = watermarks.Low.IsSpecial ? 0 : watermarks.Low.Value;
            }

            consumer.Assign(new TopicPartitionOffset(_topicPartition, new Offset(start)));
            _tracker = new ContiguousOffsetTracker(start);
            _committed = start;
            _consumer = consumer;
            LogAssigned(logger, provider, options.Topic, partition, start);
        }
        catch
        {
            consumer.Dispose();
            throw;
        }
    }


    public override async Task<IList<IBatchContainer>> GetQueueMessagesAsync(int maxCount, CancellationToken cancellationToken)
    {
        var consumer = _consumer ?? throw new InvalidOperationException("The receiver is not initialized.");
        var max = maxCount <= 0 ? 1000 : maxCount;
        var batch = new List<IBatchContainer>();
        List<DeadLetter>? failures = null;
        for (var i = 0; i < max; i++)
        {
            // Fetching runs on librdkafka's threads; a zero timeout only takes what has already arrived.
            var result = consumer.Consume(TimeSpan.Zero);
            if (result?.Message is null)
            {
                break;
            }

            var offset = result.Offset.Value;
            var key = result.Message.Key;
            var payload = result.Message.Value ?? [];
            string? keyCollection = null, keyId = null;
            if (key is not null)
            {
                var slash = key.IndexOf('/', StringComparison.Ordinal);
                (keyCollection, keyId) = slash > 0 ? (key[..slash], key[(slash + 1)..]) : (key, string.Empty);
            }

            var decoded = _decoder.Decode(payload, keyCollection, keyId, offset);
            lock (_lock)
            {
                _tracker.Read(offset);
                if (decoded.Change is { } change)
                {
                    _inFlight[offset] = (key, payload, Stopwatch.GetTimestamp());
                    batch.Add(new DocumentChangeBatchContainer(
                        DocumentStreams.StreamId(change.Collection, change.Id), change, new EventSequenceTokenV2(offset), offset));
                }
                else
                {
                    (failures ??= []).Add(new DeadLetter(provider, "kafka", partition, offset, key, payload, 1, decoded.Error!, DateTimeOffset.UtcNow));
                }
            }
        }

        if (failures is not null)
        {
            await deadLetters.AddAsync(failures, cancellationToken);
            lock (_lock)
            {
                foreach (var failure in failures)
                {
                    _tracker.Acknowledge(failure.Position);
                }
            }

            LogDeadLettered(logger, failures.Count, provider, partition, failures[0].Reason);
            await CommitAsync();
        }

        return batch;
    }


    public override Task MessagesDeliveredAsync(IList<IBatchContainer> messages, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            foreach (var message in messages)
            {
                if (message is DocumentChangeBatchContainer container && _inFlight.Remove(container.Position))
                {
                    _tracker.Acknowledge(container.Position);
                }
            }
        }

        return CommitAsync();
    }

    public override async Task Shutdown(TimeSpan timeout)
    {
        var consumer = _consumer;
        if (consumer is null)
        {
            return;
        }

        try
        {
            await CommitAsync();
        }
        finally
        {
            _consumer = null;
            await Task.Run(() =>
            {
                consumer.Close();
                consumer.Dispose();
            });
        }
    }

    /// <summary>
    /// Dead-letters an in-flight event whose delivery failed for good (called by the failure handler), so the commit
    /// point moves past it. A failure reported sooner than the delivery time after the event was read can only come
    /// from the agent shutting down: that event stays unacknowledged and is read again by the next owner.
    /// </summary>
    public override async Task OnDeliveryFailedAsync(StreamSequenceToken? token, string reason)
    {
        if (token is null || _consumer is null)
        {
            return;
        }

        (string? Key, byte[] Payload, long ReadAt) entry;
        lock (_lock)
        {
            if (!_inFlight.TryGetValue(token.SequenceNumber, out entry))
            {
                return;
            }

            if (Stopwatch.GetElapsedTime(entry.ReadAt) < maxDeliveryTime)
            {
                LogInterrupted(logger, provider, partition, token.SequenceNumber);
                return;
            }

            _inFlight.Remove(token.SequenceNumber);
        }

        await deadLetters.AddAsync([new DeadLetter(provider, "kafka", partition, token.SequenceNumber, entry.Key, entry.Payload, 1, reason, DateTimeOffset.UtcNow)]);
        lock (_lock)
        {
            _tracker.Acknowledge(token.SequenceNumber);
        }

        LogDeadLettered(logger, 1, provider, partition, reason);
    }

    private async Task CommitAsync()
    {
        long point;
        lock (_lock)
        {
            point = _tracker.CommitPoint;
        }

        if (point <= _committed || _consumer is not { } consumer)
        {
            return;
        }

        await Task.Run(() => consumer.Commit([new TopicPartitionOffset(_topicPartition, new Offset(point))]));
        _committed = point;
    }

    [LoggerMessage(EventId = 3200, Level = LogLevel.Information, Message = "Stream {Provider} reads {Topic} partition {Partition} from offset {Offset}")]
    private static partial void LogAssigned(ILogger logger, string provider, string topic, int partition, long offset);

    [LoggerMessage(EventId = 3201, Level = LogLevel.Warning, Message = "Dead-lettered {Count} event(s) of stream {Provider} partition {Partition}; first reason: {Reason}")]
    private static partial void LogDeadLettered(ILogger logger, int count, string provider, int partition, string reason);

    [LoggerMessage(EventId = 3203, Level = LogLevel.Information, Message = "Stream {Provider} partition {Partition}: delivery of offset {Offset} was interrupted; it stays uncommitted and is delivered again")]
    private static partial void LogInterrupted(ILogger logger, string provider, int partition, long offset);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Warning, Message = "Kafka error on stream {Provider} partition {Partition}: {Reason}")]
    private static partial void LogKafkaError(ILogger logger, string provider, int partition, string reason);
}
