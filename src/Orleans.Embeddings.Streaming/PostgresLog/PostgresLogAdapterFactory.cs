using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Streaming.Delivery;
using Orleans.Embeddings.Streaming.Events;
using Orleans.Providers.Streams.Common;
using Orleans.Runtime;
using Orleans.Streams;

namespace Orleans.Embeddings.Streaming.PostgresLog;

/// <summary>
/// The Orleans persistent stream provider over the PostgreSQL log: queues are the log's partitions, read by
/// <see cref="PostgresLogReceiver"/>; writes through the Orleans stream API append to the log like any producer.
/// </summary>
public sealed class PostgresLogAdapterFactory : IQueueAdapterFactory, IQueueAdapter
{
    private readonly PostgresLogStreamOptions _options;
    private readonly PostgresLogStore _store;
    private readonly ILoggerFactory _loggerFactory;
    private readonly HashRingBasedStreamQueueMapper _mapper;
    private readonly SimpleQueueAdapterCache _cache;
    private readonly TimeSpan _maxDeliveryTime;
    private readonly ConcurrentDictionary<QueueId, PostgresLogReceiver> _receivers = new();

    /// <summary>Creates the factory of provider <paramref name="name"/>.</summary>
    public PostgresLogAdapterFactory(
        string name, PostgresLogStreamOptions options, PostgresLogStore store, SimpleQueueCacheOptions cacheOptions,
        StreamPullingAgentOptions agentOptions, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(agentOptions);
        Name = name;
        _options = options;
        _store = store;
        _loggerFactory = loggerFactory;
        _maxDeliveryTime = agentOptions.MaxEventDeliveryTime;
        _mapper = new HashRingBasedStreamQueueMapper(new HashRingStreamQueueMapperOptions { TotalQueueCount = options.QueueCount }, name);
        _cache = new SimpleQueueAdapterCache(cacheOptions, name, loggerFactory);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public bool IsRewindable => false;

    /// <inheritdoc />
    public StreamProviderDirection Direction => StreamProviderDirection.ReadWrite;

    /// <summary>Builds the factory for a named provider from the silo's services (the delegate <c>AddPersistentStreams</c> takes).</summary>
    public static PostgresLogAdapterFactory Create(IServiceProvider services, string name)
    {
        var options = services.GetRequiredService<IOptionsMonitor<PostgresLogStreamOptions>>().Get(name);
        var validation = new PostgresLogStreamOptionsValidator().Validate(name, options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(name, typeof(PostgresLogStreamOptions), validation.Failures);
        }

        return new PostgresLogAdapterFactory(
            name,
            options,
            new PostgresLogStore(services.GetRequiredService<NpgsqlDataSource>()),
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
        // Records the queue count so producers writing through SQL hash documents to the same queues.
        await _store.RegisterProviderAsync(Name, _options.QueueCount, cancellationToken);
        return this;
    }

    /// <inheritdoc />
    public IQueueAdapterCache GetQueueAdapterCache() => _cache;

    /// <inheritdoc />
    public IStreamQueueMapper GetStreamQueueMapper() => _mapper;

    /// <inheritdoc />
    public Task<IStreamFailureHandler> GetDeliveryFailureHandler(QueueId queueId) =>
        Task.FromResult<IStreamFailureHandler>(new DeliveryFailureHandler(
            (_, token, reason) => _receivers.TryGetValue(queueId, out var receiver) ? receiver.RetryLaterAsync(token, reason) : Task.CompletedTask,
            _maxDeliveryTime));

    /// <inheritdoc />
    public IQueueAdapterReceiver CreateReceiver(QueueId queueId)
    {
        var queue = checked((int)queueId.GetNumericId());
        var receiver = new PostgresLogReceiver(
            Name, queue, _store, _options, _loggerFactory.CreateLogger($"{typeof(PostgresLogReceiver).FullName}.{Name}"));
        _receivers[queueId] = receiver;
        return receiver;
    }

    /// <inheritdoc />
    public async Task QueueMessageBatchAsync<T>(StreamId streamId, IEnumerable<T> events, StreamSequenceToken? token, Dictionary<string, object>? requestContext)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (token is not null)
        {
            throw new ArgumentException("The PostgreSQL log assigns positions itself; publish without a sequence token.", nameof(token));
        }

        var appends = new List<LogAppend>();
        foreach (var item in events)
        {
            if (item is not DocumentChange change)
            {
                throw new NotSupportedException($"The PostgreSQL log carries {nameof(DocumentChange)} events, not {typeof(T).Name}.");
            }

            if (!streamId.Equals(DocumentStreams.StreamId(change.Collection, change.Id)))
            {
                throw new ArgumentException($"A change to {DocumentStreams.Key(change.Collection, change.Id)} was published on stream {streamId}.", nameof(events));
            }

            appends.Add(new LogAppend(change.Collection, change.Id, DocumentChangeJson.ToUtf8(change)));
        }

        await _store.AppendAsync(Name, appends);
    }
}
