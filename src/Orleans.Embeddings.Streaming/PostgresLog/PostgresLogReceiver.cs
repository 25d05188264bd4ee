using Npgsql;
using Microsoft.Extensions.Logging;
using Orleans.Embeddings.Storage;
using Orleans.Embeddings.Streaming.Delivery;
using Orleans.Providers.Streams.Common;
using Orleans.Runtime;
using Orleans.Streams;

namespace Orleans.Embeddings.Streaming.PostgresLog;

/// <summary>
/// Reads one queue of the log for the pulling agent that owns it. Rows are leased (visibility timeout) when read,
/// the leases of rows still in the agent's cache are extended, and a row is acknowledged only in
/// <see cref="MessagesDeliveredAsync(IList{IBatchContainer}, CancellationToken)"/>, after its consumer finished.
/// A receiver taking over a queue waits until the previous owner's leases are released or expire, so a document's
/// events are never delivered out of order. With an <see cref="PostgresLogAppendSignal"/>, a queue found drained is
/// queried again only once something was appended to it, or at the next rescan. An acknowledgement that fails (the
/// database restarting) keeps its leases and is made again at the next pull, so a delivered event is not delivered
/// a second time when its lease expires.
/// </summary>
internal sealed partial class PostgresLogReceiver(
    string provider, int queue, PostgresLogStore store, PostgresLogStreamOptions options, ILogger logger, PostgresLogAppendSignal? appends = null)
    : DocumentQueueReceiver
{
    private readonly DocumentEventDecoder _decoder = new(options.Limits);
    private readonly Lock _lock = new();
    private readonly Dictionary<long, long> _inFlightByToken = [];
    private readonly HashSet<long> _inFlightPositions = [];
    private readonly List<long> _unacknowledged = [];
    private Guid _owner;
    private long _floor;
    private long _nextToken;
    private DateTimeOffset? _blockedUntil;
    private DateTimeOffset _lastRescan;
    private DateTimeOffset _lastExtension;
    private DateTimeOffset _lastEviction;
    private long? _drainedAt;
    private bool _usesSignal;
    private bool _leasesUnknown; // a lease statement failed on its connection: it may have leased rows this receiver never got
    private long _queries;

    public int Queue => queue;

    /// <summary>The lease owner this receiver writes (for tests).</summary>
    internal Guid Owner => _owner;

    /// <summary>How many times this receiver has queried its queue for events (for tests and diagnostics).</summary>
    public long Queries => Interlocked.Read(ref _queries);

    public override async Task Initialize(TimeSpan timeout)
    {
        _owner = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        _lastRescan = _lastExtension = _lastEviction = now;
        if (appends is not null && !_usesSignal)
        {
            appends.Acquire();
            _usesSignal = true;
        }
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await store.RegisterProviderAsync(provider, options.QueueCount, cts.Token);
            _blockedUntil = await store.ForeignLeasesExpireAtAsync(provider, queue, _owner, cts.Token);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            // Orleans goes on pulling with a receiver whose Initialize failed (the database restarting while the queue
            // changed owner): until the previous owner's leases can be read, assume it holds some, so that its events are
            // still delivered before the ones after them. The next pull reads them.
            _blockedUntil = DateTimeOffset.MaxValue;
            LogInitializeFailed(logger, ex, provider, queue);
            return;
        }

        if (_blockedUntil is { } until)
        {
            LogWaitingForLeases(logger, provider, queue, until);
        }
    }


    public override async Task<IList<IBatchContainer>> GetQueueMessagesAsync(int maxCount, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        if (_blockedUntil is not null)
        {
            // Another receiver (a crashed silo, or the previous owner mid-handover) holds leases here: its events come first.
            _blockedUntil = await store.ForeignLeasesExpireAtAsync(provider, queue, _owner, cancellationToken);
            if (_blockedUntil is not null)
            {
                return [];
            }
        }

        await AcknowledgeAsync(TakeUnacknowledged(), cancellationToken);
        if (_leasesUnknown)
        {
            long[] received;
            lock (_lock)
            {
                received = [.. _inFlightPositions];
            }

            var reclaimed = await store.ReclaimLeasesAsync(provider, queue, _owner, received, cancellationToken);
            _leasesUnknown = false;
            if (reclaimed > 0)
            {
                LogReclaimed(logger, reclaimed, provider, queue);
            }
        }

        await ExtendLeasesIfDueAsync(now, cancellationToken);
        await EvictIfDueAsync(now, cancellationToken);

        var rescan = now - _lastRescan >= options.RescanInterval;
        var stamp = appends?.Stamp(queue);
        if (!rescan && stamp is not null && stamp == _drainedAt)
        {
            return []; // nothing appended since the queue was found drained
        }

        if (rescan)
        {
            _lastRescan = now;
        }

        var max = maxCount <= 0 ? 1000 : Math.Min(maxCount, 5000);
        Interlocked.Increment(ref _queries);
        IReadOnlyList<LeasedEvent> leased;
        try
        {
            leased = await store.LeaseAsync(provider, queue, _owner, rescan ? 0 : _floor, max, options.VisibilityTimeout, cancellationToken);
        }
        catch (Exception ex) when (PostgresFailures.IsConnectionLoss(ex))
        {
            // The lease may have committed with its answer lost: those rows are given back before the next lease.
            _leasesUnknown = true;
            throw;
        }

        _drainedAt = leased.Count < max ? stamp : null;
        if (leased.Count == 0)
        {
            return [];
        }

        var batch = new List<IBatchContainer>(leased.Count);
        List<(long, string)>? failures = null;
        lock (_lock)
        {
            foreach (var row in leased)
            {
                _floor = Math.Max(_floor, row.Position);
                string? reason = null;
                Documents.DocumentChange? change = null;
                if (row.Attempts > options.MaxAttempts)
                {
                    reason = row.LastError is { } error
                        ? $"not acknowledged after {row.Attempts - 1} deliveries; the last failed because {error}"
                        : $"not acknowledged after {row.Attempts - 1} deliveries: every lease expired (the consumer's silo crashed or stalled each time)";
                }
                else
                {
                    var decoded = _decoder.Decode(row.Payload, row.Collection, row.DocumentId, row.Position);
                    change = decoded.Change;
                    reason = decoded.Error;
                }

                if (change is null)
                {
                    (failures ??= []).Add((row.Position, reason!));
                    continue;
                }

                var token = new EventSequenceTokenV2(++_nextToken);
                _inFlightByToken[token.SequenceNumber] = row.Position;
                _inFlightPositions.Add(row.Position);
                batch.Add(new DocumentChangeBatchContainer(DocumentStreams.StreamId(change.Collection, change.Id), change, token, row.Position));
            }
        }

        if (failures is not null)
        {
            await store.DeadLetterAsync(provider, queue, failures, cancellationToken);
            LogDeadLettered(logger, failures.Count, provider, queue, failures[0].Item2);
        }

        return batch;
    }


    public override Task MessagesDeliveredAsync(IList<IBatchContainer> messages, CancellationToken cancellationToken)
    {
        // The delivered events stay in flight (their leases extended) until the acknowledgement has committed.
        var positions = TakeUnacknowledged();
        lock (_lock)
        {
            foreach (var message in messages)
            {
                if (message is DocumentChangeBatchContainer container && _inFlightByToken.Remove(container.SequenceToken.SequenceNumber))
                {
                    positions.Add(container.Position);
                }
            }
        }

        return AcknowledgeAsync(positions, cancellationToken);
    }

    public override async Task Shutdown(TimeSpan timeout)
    {
        var delivered = TakeUnacknowledged();
        long[] positions;
        lock (_lock)
        {
            _inFlightPositions.ExceptWith(delivered);
            positions = [.. _inFlightPositions];
            _inFlightPositions.Clear();
            _inFlightByToken.Clear();
        }

        // Hand the queue over at once: what was read but not delivered becomes visible to the next owner.
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            if (delivered.Count > 0)
            {
                await store.AcknowledgeAsync(provider, queue, _owner, delivered, cts.Token);
            }

            await store.ReleaseLeasesAsync(provider, queue, _owner, positions, cts.Token);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogReleaseFailed(logger, ex, provider, queue, options.VisibilityTimeout);
        }
        finally
        {
            if (appends is not null && _usesSignal)
            {
                _usesSignal = false;
                await appends.ReleaseAsync();
            }
        }
    }

    /// <summary>
    /// Gives an in-flight event whose delivery failed back to the log (called by the failure handler): it is read
    /// again, and dead-lettered with <paramref name="reason"/> once it has used up <see cref="PostgresLogStreamOptions.MaxAttempts"/>.
    /// A failure reported because the agent is shutting down thus costs one attempt, never the event.
    /// </summary>
    public override async Task OnDeliveryFailedAsync(StreamSequenceToken? token, string reason)
    {
        long position;
        lock (_lock)
        {
            if (token is null || !_inFlightByToken.Remove(token.SequenceNumber, out position))
            {
                return;
            }

            _inFlightPositions.Remove(position);
        }

        await store.RetryLaterAsync(provider, queue, _owner, position, reason, options.RetryDelay);
        LogRetryLater(logger, provider, queue, position, reason);
    }

    private List<long> TakeUnacknowledged()
    {
        lock (_lock)
        {
            List<long> positions = [.. _unacknowledged];
            _unacknowledged.Clear();
            return positions;
        }
    }

    private async Task AcknowledgeAsync(List<long> positions, CancellationToken cancellationToken)
    {
        if (positions.Count == 0)
        {
            return;
        }

        int acknowledged;
        try
        {
            acknowledged = await store.AcknowledgeAsync(provider, queue, _owner, positions, cancellationToken);
        }
        catch
        {
            // The events were delivered; only their acknowledgement is missing. Keep the leases and acknowledge them at the
            // next pull: letting them expire would deliver them again and count an attempt toward dead-lettering them.
            lock (_lock)
            {
                _unacknowledged.AddRange(positions);
            }

            throw;
        }

        lock (_lock)
        {
            _inFlightPositions.ExceptWith(positions);
        }

        if (acknowledged < positions.Count)
        {
            // Our lease ran out and another receiver re-read those rows: they will be delivered again (at-least-once).
            LogStaleAcknowledgements(logger, positions.Count - acknowledged, provider, queue);
        }
    }

    private async Task ExtendLeasesIfDueAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (now - _lastExtension < options.VisibilityTimeout / 3)
        {
            return;
        }

        _lastExtension = now;
        long[] positions;
        lock (_lock)
        {
            positions = [.. _inFlightPositions];
        }

        await store.ExtendLeasesAsync(provider, queue, _owner, positions, options.VisibilityTimeout, cancellationToken);
    }

    private async Task EvictIfDueAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (now - _lastEviction < options.EvictionInterval)
        {
            return;
        }

        _lastEviction = now;
        var evicted = await store.EvictAsync(provider, queue, options.Retention, cancellationToken: cancellationToken);
        if (evicted > 0)
        {
            LogEvicted(logger, evicted, provider, queue);
        }
    }

    [LoggerMessage(EventId = 3100, Level = LogLevel.Information, Message = "Stream {Provider} queue {Queue}: waiting until {Until} for leases of another receiver to be released or expire")]
    private static partial void LogWaitingForLeases(ILogger logger, string provider, int queue, DateTimeOffset until);

    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Dead-lettered {Count} event(s) of stream {Provider} queue {Queue}; first reason: {Reason}")]
    private static partial void LogDeadLettered(ILogger logger, int count, string provider, int queue, string reason);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "{Count} acknowledgement(s) on stream {Provider} queue {Queue} came after the lease was lost; those events will be delivered again")]
    private static partial void LogStaleAcknowledgements(ILogger logger, int count, string provider, int queue);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Warning, Message = "Could not release the leases of stream {Provider} queue {Queue}; the next owner waits up to {Timeout} for them")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception, string provider, int queue, TimeSpan timeout);

    [LoggerMessage(EventId = 3105, Level = LogLevel.Warning, Message = "Stream {Provider} queue {Queue}: delivery of position {Position} failed ({Reason}); it will be retried")]
    private static partial void LogRetryLater(ILogger logger, string provider, int queue, long position, string reason);

    [LoggerMessage(EventId = 3107, Level = LogLevel.Warning, Message = "Stream {Provider} queue {Queue}: {Count} event(s) leased by a statement whose answer was lost are visible again")]
    private static partial void LogReclaimed(ILogger logger, int count, string provider, int queue);

    [LoggerMessage(EventId = 3106, Level = LogLevel.Warning, Message = "Stream {Provider} queue {Queue}: could not read the leases of a previous owner at start; they are read at the next pull before anything is leased")]
    private static partial void LogInitializeFailed(ILogger logger, Exception exception, string provider, int queue);

    [LoggerMessage(EventId = 3104, Level = LogLevel.Debug, Message = "Evicted {Count} acknowledged event(s) of stream {Provider} queue {Queue}")]
    private static partial void LogEvicted(ILogger logger, int count, string provider, int queue);
}
