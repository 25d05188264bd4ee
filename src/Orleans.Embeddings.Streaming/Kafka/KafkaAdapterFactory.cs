using System.Collections.Concurrent;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
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
public sealed class KafkaAdapterFactory : IQueueAdapterFactory, IQueueAdapter, IDisposable
{
    private readonly KafkaStreamOptions _options;
    private readonly DeadLetterStore _deadLetters;
    private readonly ILoggerFactory _loggerFactory;
    private readonly HashRingBasedStreamQueueMapper _mapper;
    private readonly SimpleQueueAdapterCache _cache;
    private readonly TimeSpan _maxDeliveryTime;
    private readonly ConcurrentDictionary<QueueId, KafkaReceiver> _receivers = new();
    private IProducer<string, byte[]>? _producer;

    /// <summary>Creates the factory of provider <paramref name="name"/>.</summary>
    public KafkaAdapterFactory(
        string name, KafkaStreamOptions options, DeadLetterStore deadLetters, SimpleQueueCacheOptions cacheOptions,
        StreamPullingAgentOptions agentOptions, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(agentOptions);
        Name = name;
        _options = options;
        _deadLetters = deadLetters;
        _loggerFactory = loggerFactory;
        _maxDeliveryTime = agentOptions.MaxEventDeliveryTime;
        _mapper = new HashRingBasedStreamQueueMapper(new HashRingStreamQueueMapperOptions { TotalQueueCount = options.Partitions }, name);
        _cache = new SimpleQueueAdapterCache(cacheOptions, name, loggerFactory);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public bool IsRewindable => false;

    /// <inheritdoc />
    public StreamProviderDirection Direction => StreamProviderDirection.ReadWrite;

    /// <summary>Builds the factory for a named provider from the silo's services (the delegate <c>AddPersistentStreams</c> takes).</summary>
    public static KafkaAdapterFactory Create(IServiceProvider services, string name)
    {
        var options = services.GetRequiredService<IOptionsMonitor<KafkaStreamOptions>>().Get(name);
        var validation = new KafkaStreamOptionsValidator().Validate(name, options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(name, typeof(KafkaStreamOptions), validation.Failures);
        }

        return new KafkaAdapterFactory(
            name,
            options,
            new DeadLetterStore(services.GetRequiredService<NpgsqlDataSource>()),
            services.GetOptionsByName<SimpleQueueCacheOptions>(name),
            services.GetOptionsByName<StreamPullingAgentOptions>(name),
            services.GetRequiredService<ILoggerFactory>());
    }

    /// <inheritdoc />
    [Obsolete("Use the overload which accepts a CancellationToken.")]
    public Task<IQueueAdapter> CreateAdapter() => CreateAdapter(CancellationToken.None);

    /// <inheritdoc />
    public async Task<IQueueAdapter> CreateAdapter(CancellationToken cancellationToken)
    {
        var partitions = await Task.Run(() => KafkaTopics.PartitionCount(_options.BootstrapServers, _options.Config, _options.Topic, _options.MetadataTimeout), cancellationToken);
        if (partitions != _options.Partitions)
        {
            throw new InvalidOperationException(
                $"{KafkaStreamOptions.SectionName}:{nameof(KafkaStreamOptions.Partitions)} is {_options.Partitions} but topic '{_options.Topic}' has {partitions} partition(s) on {_options.BootstrapServers}; they must agree.");
        }

        return this;
    }

    /// <inheritdoc />
    public IQueueAdapterCache GetQueueAdapterCache() => _cache;

    /// <inheritdoc />
    public IStreamQueueMapper GetStreamQueueMapper() => _mapper;

    /// <inheritdoc />
    public Task<IStreamFailureHandler> GetDeliveryFailureHandler(QueueId queueId) =>
        Task.FromResult<IStreamFailureHandler>(new DeliveryFailureHandler(
            (_, token, reason) => _receivers.TryGetValue(queueId, out var receiver) ? receiver.DeadLetterAsync(token, reason) : Task.CompletedTask,
            _maxDeliveryTime));

    /// <inheritdoc />
    public IQueueAdapterReceiver CreateReceiver(QueueId queueId)
    {
        var receiver = new KafkaReceiver(
            Name, checked((int)queueId.GetNumericId()), _options, _deadLetters, _maxDeliveryTime, _loggerFactory.CreateLogger($"{typeof(KafkaReceiver).FullName}.{Name}"));
        _receivers[queueId] = receiver;
        return receiver;
    }

    /// <inheritdoc />
    public async Task QueueMessageBatchAsync<T>(StreamId streamId, IEnumerable<T> events, StreamSequenceToken? token, Dictionary<string, object>? requestContext)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (token is not null)
        {
            throw new ArgumentException("Kafka assigns offsets itself; publish without a sequence token.", nameof(token));
        }

        var producer = _producer ??= new ProducerBuilder<string, byte[]>(KafkaClientConfig.Producer(_options.BootstrapServers, _options.Config)).Build();
        foreach (var item in events)
        {
            if (item is not DocumentChange change)
            {
                throw new NotSupportedException($"The Kafka stream carries {nameof(DocumentChange)} events, not {typeof(T).Name}.");
            }

            await producer.ProduceAsync(
                _options.Topic,
                new Message<string, byte[]> { Key = DocumentStreams.Key(change.Collection, change.Id), Value = DocumentChangeJson.ToUtf8(change) });
        }
    }

    /// <inheritdoc />
    public void Dispose() => _producer?.Dispose();
}
