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
public sealed class PostgresLogAdapterFactory : DocumentQueueAdapterFactory
{
    private readonly PostgresLogStreamOptions _options;
    private readonly PostgresLogStore _store;
    private readonly PostgresLogAppendSignal? _appends;

    /// <summary>Creates the factory of provider <paramref name="name"/>; its receivers poll at every pull.</summary>
    public PostgresLogAdapterFactory(
        string name, PostgresLogStreamOptions options, PostgresLogStore store, SimpleQueueCacheOptions cacheOptions,
        StreamPullingAgentOptions agentOptions, ILoggerFactory loggerFactory)
        : this(name, options, store, null, cacheOptions, agentOptions, loggerFactory)
    {
    }

    private PostgresLogAdapterFactory(
        string name, PostgresLogStreamOptions options, PostgresLogStore store, NpgsqlDataSource? listenOn, SimpleQueueCacheOptions cacheOptions,
        StreamPullingAgentOptions agentOptions, ILoggerFactory loggerFactory)
        : base(name, (options ?? throw new ArgumentNullException(nameof(options))).QueueCount, cacheOptions, agentOptions, loggerFactory)
    {
        _options = options;
        _store = store;
        if (listenOn is not null && options.ListenForAppends)
        {
            _appends = new PostgresLogAppendSignal(listenOn, name, LoggerFactory.CreateLogger($"{typeof(PostgresLogAppendSignal).FullName}.{name}"));
        }
    }

    /// <summary>Builds the factory for a named provider from the silo's services (the delegate <c>AddPersistentStreams</c> takes).</summary>
    public static PostgresLogAdapterFactory Create(IServiceProvider services, string name)
    {
        var resolved = ResolveServices(services, name, new PostgresLogStreamOptionsValidator());
        var dataSource = services.GetRequiredService<NpgsqlDataSource>();
        return new PostgresLogAdapterFactory(
            name, resolved.Options, new PostgresLogStore(dataSource), dataSource, resolved.CacheOptions, resolved.AgentOptions, resolved.LoggerFactory);
    }

    /// <inheritdoc />
    public override Task QueueMessageBatchAsync<T>(StreamId streamId, IEnumerable<T> events, StreamSequenceToken? token, Dictionary<string, object>? requestContext) =>
        _store.AppendAsync(
            Name,
            [.. ChangesToPublish(streamId, events, token, "PostgreSQL log").Select(c => new LogAppend(c.Collection, c.Id, DocumentChangeJson.ToUtf8(c)))]);

    /// <inheritdoc />
    protected override async Task PrepareAsync(CancellationToken cancellationToken)
    {
        // Records the queue count so producers writing through SQL hash documents to the same queues. A database
        // not migrated yet does not stop the silo (its readiness says why); each receiver registers again.
        try
        {
            await _store.RegisterProviderAsync(Name, _options.QueueCount, cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
        }
    }

    /// <inheritdoc />
    protected override DocumentQueueReceiver CreateReceiver(int queue) =>
        new PostgresLogReceiver(Name, queue, _store, _options, LoggerFactory.CreateLogger($"{typeof(PostgresLogReceiver).FullName}.{Name}"), _appends);
}
