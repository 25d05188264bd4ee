using System.Collections.Concurrent;
using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Hosting;
using Orleans.Embeddings.Indexing;
using Orleans.Embeddings.Storage.Routing;
using Orleans.Runtime;

namespace Orleans.Embeddings.Routing;

/// <summary>
/// This silo's copy of every collection's routing table. Changes are pushed (PostgreSQL LISTEN/NOTIFY) and also
/// polled, so a lost notification only delays a refresh; each epoch this silo starts routing by is acknowledged
/// in <c>embeddings_routing_acks</c> under the silo's name, which is what a rollout waits for. An acknowledgement that
/// fails (the database restarting) is made again at the next refresh or poll.
/// </summary>
public sealed partial class RoutingCache(
    RoutingStore store, ILocalSiloDetails silo, IOptions<IndexerOptions> options, ILogger<RoutingCache> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly ConcurrentDictionary<string, RoutingTable> _tables = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _acknowledged = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private Task _background = Task.CompletedTask;

    /// <summary>The routing of <paramref name="collection"/>, or null when the collection has none.</summary>
    public async ValueTask<RoutingTable?> GetAsync(string collection, CancellationToken cancellationToken = default)
    {
        if (_tables.TryGetValue(collection, out var table))
        {
            return table;
        }

        return await RefreshAsync(collection, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Re-reads one collection's routing now (after a change this silo made itself, or a notification).</summary>
    public async Task<RoutingTable?> RefreshAsync(string collection, CancellationToken cancellationToken = default)
    {
        var record = await store.GetAsync(collection, cancellationToken).ConfigureAwait(false);
        return record is null ? null : await ApplyAsync(record, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(
            nameof(RoutingCache),
            ServiceLifecycleStage.ApplicationServices,
            _ =>
            {
                _background = Task.WhenAll(ListenAsync(_stopping.Token), PollAsync(_stopping.Token));
                return Task.CompletedTask;
            },
            async _ =>
            {
                await _stopping.CancelAsync().ConfigureAwait(false);
                await _background.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            });
    }

    /// <inheritdoc />
    public void Dispose() => _stopping.Dispose();

    private async Task<RoutingTable> ApplyAsync(RoutingRecord record, CancellationToken cancellationToken)
    {
        var table = new RoutingTable(record.Collection, record.Epoch, [.. record.WriteTargets], record.Traffic.ToImmutableDictionary());
        var current = _tables.AddOrUpdate(record.Collection, table, (_, existing) => existing.Epoch >= table.Epoch ? existing : table);
        if (current == table)
        {
            LogEpoch(logger, record.Collection, record.Epoch, string.Join(", ", record.WriteTargets));
        }

        // Acknowledged until it has committed, not only when the epoch is first seen: a rollout waits for every silo's
        // acknowledgement, and one lost with its connection would otherwise never be made again.
        if (_acknowledged.GetValueOrDefault(current.Collection) < current.Epoch)
        {
            await store.AcknowledgeAsync(current.Collection, silo.Name, current.Epoch, cancellationToken).ConfigureAwait(false);
            _acknowledged.AddOrUpdate(current.Collection, current.Epoch, (_, acknowledged) => Math.Max(acknowledged, current.Epoch));
        }

        return current;
    }

    // Each time the listener is in place (again), the routing is read in full: a change notified while it was
    // reconnecting (the database restarting) is seen at once instead of at the next poll.
    private Task ListenAsync(CancellationToken cancellationToken) =>
        store.ListenAsync(
            collection => RefreshAsync(collection, cancellationToken),
            () => _ = ReadAllAsync(cancellationToken),
            ex => LogListenFailed(logger, ex),
            cancellationToken);

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.Value.RoutingPollInterval);
        do
        {
            await ReadAllAsync(cancellationToken).ConfigureAwait(false);
        }
        while (!cancellationToken.IsCancellationRequested && await NextTickAsync(timer, cancellationToken).ConfigureAwait(false));
    }

    private async Task ReadAllAsync(CancellationToken cancellationToken)
    {
        try
        {
            foreach (var record in await store.ListAsync(cancellationToken).ConfigureAwait(false))
            {
                await ApplyAsync(record, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogPollFailed(logger, ex);
        }
    }

    private static async Task<bool> NextTickAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 4000, Level = LogLevel.Information, Message = "Routing of {Collection} is at epoch {Epoch}: writes go to {Targets}")]
    private static partial void LogEpoch(ILogger logger, string collection, long epoch, string targets);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning, Message = "Listening for routing changes failed; reconnecting (polling continues)")]
    private static partial void LogListenFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Reading the routing tables failed; they are read again at the next poll")]
    private static partial void LogPollFailed(ILogger logger, Exception exception);
}
