using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Documents;
using Orleans.Configuration;
using Orleans.Providers.Streams.Common;
using Orleans.Runtime;
using Orleans.Streams;

namespace Orleans.Embeddings.Streaming.Delivery;

/// <summary>
/// What both transports share: a non-rewindable adapter with one queue per log partition (queue id = partition
/// number), the simple cache (items leave it only once delivered, which is when they are acknowledged), and a
/// failure handler that hands an event the consumer kept failing back to its queue's receiver.
/// </summary>
public abstract class DocumentQueueAdapterFactory : IQueueAdapterFactory, IQueueAdapter
{
    private readonly HashRingBasedStreamQueueMapper _mapper;
    private readonly SimpleQueueAdapterCache _cache;
    private readonly ConcurrentDictionary<QueueId, IDeliveryFailureSink> _receivers = new();

    /// <summary>Sets up the mapper and cache of provider <paramref name="name"/> with <paramref name="queueCount"/> queues.</summary>
    protected DocumentQueueAdapterFactory(
        string name, int queueCount, SimpleQueueCacheOptions cacheOptions, StreamPullingAgentOptions agentOptions, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(agentOptions);
        Name = name;
        LoggerFactory = loggerFactory;
        MaxDeliveryTime = agentOptions.MaxEventDeliveryTime;
        _mapper = new HashRingBasedStreamQueueMapper(new HashRingStreamQueueMapperOptions { TotalQueueCount = queueCount }, name);
        _cache = new SimpleQueueAdapterCache(cacheOptions, name, loggerFactory);
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public bool IsRewindable => false;

    /// <inheritdoc />
    public StreamProviderDirection Direction => StreamProviderDirection.ReadWrite;

    /// <summary>How long the pulling agent retries a delivery before it reports a failure.</summary>
    protected TimeSpan MaxDeliveryTime { get; }

    /// <summary>The silo's logger factory.</summary>
    protected ILoggerFactory LoggerFactory { get; }

    /// <inheritdoc />
    [Obsolete("Use the overload which accepts a CancellationToken.")]
    public Task<IQueueAdapter> CreateAdapter() => CreateAdapter(CancellationToken.None);

    /// <inheritdoc />
    public async Task<IQueueAdapter> CreateAdapter(CancellationToken cancellationToken)
    {
        await PrepareAsync(cancellationToken);
        return this;
    }

    /// <inheritdoc />
    public IQueueAdapterCache GetQueueAdapterCache() => _cache;

    /// <inheritdoc />
    public IStreamQueueMapper GetStreamQueueMapper() => _mapper;

    /// <inheritdoc />
    public Task<IStreamFailureHandler> GetDeliveryFailureHandler(QueueId queueId) =>
        Task.FromResult<IStreamFailureHandler>(new DeliveryFailureHandler(
            (_, token, reason) => _receivers.TryGetValue(queueId, out var receiver) ? receiver.OnDeliveryFailedAsync(token, reason) : Task.CompletedTask,
            MaxDeliveryTime));

    /// <inheritdoc />
    public IQueueAdapterReceiver CreateReceiver(QueueId queueId)
    {
        var receiver = CreateReceiver(checked((int)queueId.GetNumericId()));
        _receivers[queueId] = receiver;
        return receiver;
    }

    /// <inheritdoc />
    public abstract Task QueueMessageBatchAsync<T>(StreamId streamId, IEnumerable<T> events, StreamSequenceToken? token, Dictionary<string, object>? requestContext);

    /// <summary>
    /// Resolves a provider's options, validated, and the Orleans options every provider needs.
    /// </summary>
    /// <exception cref="OptionsValidationException">The provider's options are invalid; the message names the setting.</exception>
    protected static ProviderServices<TOptions> ResolveServices<TOptions>(IServiceProvider services, string name, IValidateOptions<TOptions> validator)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(validator);
        var options = services.GetRequiredService<IOptionsMonitor<TOptions>>().Get(name);
        var validation = validator.Validate(name, options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(name, typeof(TOptions), validation.Failures);
        }

        return new ProviderServices<TOptions>(
            options,
            services.GetOptionsByName<SimpleQueueCacheOptions>(name),
            services.GetOptionsByName<StreamPullingAgentOptions>(name),
            services.GetRequiredService<ILoggerFactory>());
    }

    /// <summary>
    /// The changes of a publish through the Orleans stream API, checked: only <see cref="DocumentChange"/> events,
    /// on their own document's stream, without a token (the log assigns positions).
    /// </summary>
    protected static List<DocumentChange> ChangesToPublish<T>(StreamId streamId, IEnumerable<T> events, StreamSequenceToken? token, string transport)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (token is not null)
        {
            throw new ArgumentException($"The {transport} assigns positions itself; publish without a sequence token.", nameof(token));
        }

        var changes = new List<DocumentChange>();
        foreach (var item in events)
        {
            if (item is not DocumentChange change)
            {
                throw new NotSupportedException($"The {transport} carries {nameof(DocumentChange)} events, not {typeof(T).Name}.");
            }

            if (!streamId.Equals(DocumentStreams.StreamId(change.Collection, change.Id)))
            {
                throw new ArgumentException($"A change to {DocumentStreams.Key(change.Collection, change.Id)} was published on stream {streamId}.", nameof(events));
            }

            changes.Add(change);
        }

        return changes;
    }

    /// <summary>Checks or prepares the log before the first receiver starts (the adapter is created once per silo).</summary>
    protected abstract Task PrepareAsync(CancellationToken cancellationToken);

    /// <summary>Creates the receiver of partition <paramref name="queue"/>.</summary>
    protected abstract DocumentQueueReceiver CreateReceiver(int queue);
}

/// <summary>What a provider's factory takes from the silo's services.</summary>
public sealed record ProviderServices<TOptions>(
    TOptions Options, SimpleQueueCacheOptions CacheOptions, StreamPullingAgentOptions AgentOptions, ILoggerFactory LoggerFactory);

/// <summary>A receiver that takes back the events whose delivery failed.</summary>
internal interface IDeliveryFailureSink
{
    /// <summary>Retries or dead-letters the in-flight event with <paramref name="token"/>.</summary>
    Task OnDeliveryFailedAsync(StreamSequenceToken? token, string reason);
}

/// <summary>The base of both transports' receivers.</summary>
public abstract class DocumentQueueReceiver : IQueueAdapterReceiver, IDeliveryFailureSink
{
    /// <inheritdoc />
    public abstract Task Initialize(TimeSpan timeout);

    /// <inheritdoc />
    [Obsolete("Use the overload which accepts a CancellationToken.")]
    public Task<IList<IBatchContainer>> GetQueueMessagesAsync(int maxCount) => GetQueueMessagesAsync(maxCount, CancellationToken.None);

    /// <inheritdoc />
    public abstract Task<IList<IBatchContainer>> GetQueueMessagesAsync(int maxCount, CancellationToken cancellationToken);

    /// <inheritdoc />
    [Obsolete("Use the overload which accepts a CancellationToken.")]
    public Task MessagesDeliveredAsync(IList<IBatchContainer> messages) => MessagesDeliveredAsync(messages, CancellationToken.None);

    /// <inheritdoc />
    public abstract Task MessagesDeliveredAsync(IList<IBatchContainer> messages, CancellationToken cancellationToken);

    /// <inheritdoc />
    public abstract Task Shutdown(TimeSpan timeout);

    /// <summary>Retries or dead-letters an in-flight event whose delivery failed (called by the failure handler).</summary>
    public abstract Task OnDeliveryFailedAsync(StreamSequenceToken? token, string reason);
}
