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

    /// <summary>Creates the factory of provider <paramref name="name"/>.</summary>
    public PostgresLogAdapterFactory(
        string name, PostgresLogStreamOptions options, PostgresLogStore store, SimpleQueueCacheOptions cacheOptions,
        StreamPullingAgentOptions agentOptions, ILoggerFactory loggerFactory)
        : base(name, (options ?? throw new ArgumentNullException(nameof(options))).QueueCount, cacheOptions, agentOptions, loggerFactory)
    {
        _options = options;
        _store = store;
    }

    /// <summary>Builds the factory for a named provider from the silo's services (the delegate <c>AddPersistentStreams</c> takes).</summary>
    public static PostgresLogAdapterFactory Create(IServiceProvider services, string name)
    {
        var resolved = ResolveServices(services, name, new PostgresLogStreamOptionsValidator());
        return new PostgresLogAdapterFactory(
            name, resolved.Options, new PostgresLogStore(services.GetRequiredService<NpgsqlDataSource>()), resolved.CacheOptions, resolved.AgentOptions, resolved.LoggerFactory);
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
        new PostgresLogReceiver(Name, queue, _store, _options, LoggerFactory.CreateLogger($"{typeof(PostgresLogReceiver).FullName}.{Name}"));
}
