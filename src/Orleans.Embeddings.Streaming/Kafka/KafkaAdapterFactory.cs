using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Streaming.DeadLetters;
using Orleans.Embeddings.Streaming.Delivery;
using Orleans.Embeddings.Streaming.Events;
using Orleans.Providers.Streams.Common;
using Orleans.Runtime;
using Orleans.Streams;

namespace Orleans.Embeddings.Streaming.Kafka;

/// <summary>
/// The Orleans persistent stream provider over a Kafka-protocol topic: one queue per partition, assigned by
/// Orleans' queue balancer. Dead letters go to PostgreSQL.
/// </summary>
public sealed class KafkaAdapterFactory : DocumentQueueAdapterFactory, IDisposable
{
    private readonly KafkaStreamOptions _options;
    private readonly DeadLetterStore _deadLetters;
    private IProducer<string, byte[]>? _producer;

    /// <summary>Creates the factory of provider <paramref name="name"/>.</summary>
    public KafkaAdapterFactory(
        string name, KafkaStreamOptions options, DeadLetterStore deadLetters, SimpleQueueCacheOptions cacheOptions,
        StreamPullingAgentOptions agentOptions, ILoggerFactory loggerFactory)
        : base(name, (options ?? throw new ArgumentNullException(nameof(options))).Partitions, cacheOptions, agentOptions, loggerFactory)
    {
        _options = options;
        _deadLetters = deadLetters;
    }

    /// <summary>Builds the factory for a named provider from the silo's services (the delegate <c>AddPersistentStreams</c> takes).</summary>
    public static KafkaAdapterFactory Create(IServiceProvider services, string name)
    {
        var resolved = ResolveServices(services, name, new KafkaStreamOptionsValidator());
        return new KafkaAdapterFactory(
            name, resolved.Options, services.GetRequiredService<DeadLetterStore>(), resolved.CacheOptions, resolved.AgentOptions, resolved.LoggerFactory);
    }

    /// <inheritdoc />
    public override async Task QueueMessageBatchAsync<T>(StreamId streamId, IEnumerable<T> events, StreamSequenceToken? token, Dictionary<string, object>? requestContext)
    {
        var changes = ChangesToPublish(streamId, events, token, "Kafka stream");
        var producer = _producer ??= new ProducerBuilder<string, byte[]>(KafkaClientConfig.Producer(_options.BootstrapServers, _options.Config)).Build();
        foreach (var change in changes)
        {
            await producer.ProduceAsync(
                _options.Topic,
                new Message<string, byte[]> { Key = DocumentStreams.Key(change.Collection, change.Id), Value = DocumentChangeJson.ToUtf8(change) });
        }
    }

    /// <inheritdoc />
    public void Dispose() => _producer?.Dispose();

    /// <inheritdoc />
    protected override async Task PrepareAsync(CancellationToken cancellationToken)
    {
        var partitions = await Task.Run(() => KafkaTopics.PartitionCount(_options.BootstrapServers, _options.Config, _options.Topic, _options.MetadataTimeout), cancellationToken);
        if (partitions != _options.Partitions)
        {
            throw new InvalidOperationException(
                $"{KafkaStreamOptions.SectionName}:{nameof(KafkaStreamOptions.Partitions)} is {_options.Partitions} but topic '{_options.Topic}' has {partitions} partition(s) on {_options.BootstrapServers}; they must agree.");
        }
    }

    /// <inheritdoc />
    protected override DocumentQueueReceiver CreateReceiver(int queue) =>
        new KafkaReceiver(Name, queue, _options, _deadLetters, MaxDeliveryTime, LoggerFactory.CreateLogger($"{typeof(KafkaReceiver).FullName}.{Name}"));
}
