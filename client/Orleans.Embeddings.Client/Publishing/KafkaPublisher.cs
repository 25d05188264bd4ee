using Confluent.Kafka;
using KafkaErrorCode = Confluent.Kafka.ErrorCode;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Streaming.Delivery;
using Orleans.Embeddings.Streaming.Events;
using Orleans.Embeddings.Streaming.Kafka;

namespace Orleans.Embeddings.Client.Publishing;

/// <summary>
/// Publishes to a Kafka-protocol topic (Kafka, Redpanda, Azure Event Hubs' Kafka endpoint) with an idempotent
/// producer; the key is "collection/id", so each document's changes land in one partition, in order.
/// </summary>
public sealed class KafkaPublisher : IDocumentChangePublisher
{
    private readonly IProducer<string, byte[]> _producer;
    private readonly string _topic;
    private readonly DocumentChangeParser _parser;

    /// <summary>Creates a publisher for <paramref name="topic"/> on <paramref name="bootstrapServers"/>; <paramref name="config"/> adds librdkafka settings (SASL and so on).</summary>
    public KafkaPublisher(string bootstrapServers, string topic, IReadOnlyDictionary<string, string>? config = null, DocumentChangeLimits? limits = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(bootstrapServers);
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        _topic = topic;
        _parser = new DocumentChangeParser(limits);
        _producer = new ProducerBuilder<string, byte[]>(KafkaClientConfig.Producer(bootstrapServers, config)).Build();
    }

    /// <inheritdoc />
    public Task PublishAsync(DocumentChange change, CancellationToken cancellationToken = default) => PublishManyAsync([change], cancellationToken);

    /// <inheritdoc />
    public Task PublishManyAsync(IReadOnlyList<DocumentChange> changes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var messages = new Message<string, byte[]>[changes.Count];
        for (var i = 0; i < changes.Count; i++)
        {
            messages[i] = new Message<string, byte[]>
            {
                Key = DocumentStreams.Key(changes[i].Collection, changes[i].Id),
                Value = PublishedEvents.Serialize(changes[i], _parser, changes.Count > 1 ? i : -1),
            };
        }

        return ProduceAllAsync(messages, cancellationToken);
    }

    /// <inheritdoc />
    public Task PublishRawAsync(string collection, string id, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        ProduceAllAsync([new Message<string, byte[]> { Key = DocumentStreams.Key(collection, id), Value = payload.ToArray() }], cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
        return ValueTask.CompletedTask;
    }

    // Produce (not ProduceAsync) queues every message at once and lets librdkafka batch them; the task
    // completes when the last delivery report is in, and fails naming how many were not delivered.
    private Task ProduceAllAsync(Message<string, byte[]>[] messages, CancellationToken cancellationToken)
    {
        if (messages.Length == 0)
        {
            return Task.CompletedTask;
        }

        var completion = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var remaining = messages.Length;
        var failed = 0;
        string? firstError = null;
        void OnReport(DeliveryReport<string, byte[]> report)
        {
            if (report.Error.IsError)
            {
                Interlocked.Increment(ref failed);
                Interlocked.CompareExchange(ref firstError, report.Error.Reason, null);
            }

            if (Interlocked.Decrement(ref remaining) == 0)
            {
                if (failed == 0)
                {
                    completion.TrySetResult();
                }
                else
                {
                    completion.TrySetException(new ProduceException<string, byte[]>(
                        new Error(KafkaErrorCode.Local_Fail, $"{failed} of {messages.Length} event(s) were not delivered to '{_topic}': {firstError}"), null!));
                }
            }
        }

        foreach (var message in messages)
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    _producer.Produce(_topic, message, OnReport);
                    break;
                }
                catch (ProduceException<string, byte[]> ex) when (ex.Error.Code == KafkaErrorCode.Local_QueueFull)
                {
                    _producer.Poll(TimeSpan.FromMilliseconds(50));
                }
            }
        }

        return completion.Task.WaitAsync(cancellationToken);
    }
}
