using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Embeddings.Storage.Notifications;

namespace Orleans.Embeddings.Streaming.PostgresLog;

/// <summary>
/// Tells a provider's receivers on this silo whether anything was appended to their queue since they last found it
/// empty, so an idle queue costs no query at each pull. It holds one connection that <c>LISTEN</c>s to the channel the
/// log's append trigger notifies (migration 0007) while at least one receiver uses it.
/// </summary>
/// <remarks>
/// A receiver reads <see cref="Stamp"/> before it queries its queue; if the query finds the queue drained, the queue
/// holds nothing new for as long as the stamp stays the same. A transaction that appends after the query's snapshot
/// commits after the stamp was read, so its notification arrives later and changes the stamp. While the connection is
/// down there is no stamp (receivers query at every pull), and losing or regaining the connection changes every stamp.
/// </remarks>
internal sealed partial class PostgresLogAppendSignal(NpgsqlDataSource dataSource, string provider, ILogger logger)
{
    /// <summary>The channel migration 0007's trigger notifies.</summary>
    public const string Channel = "embeddings_stream_log";

    private readonly ConcurrentDictionary<int, StrongBox<long>> _appends = new();
    private readonly Lock _lock = new();
    private long _resets;
    private volatile bool _listening;
    private int _users;
    private CancellationTokenSource? _stop;
    private Task _loop = Task.CompletedTask;

    /// <summary>True while the connection listens (for tests and diagnostics).</summary>
    public bool IsListening => _listening;

    /// <summary>
    /// A value that changes whenever rows may have been appended to <paramref name="queue"/>; null when the signal
    /// cannot tell (not listening), in which case the receiver must query.
    /// </summary>
    public long? Stamp(int queue)
    {
        if (!_listening)
        {
            return null;
        }

        // Both counters only grow, so their sum stays the same only while neither moves.
        return Volatile.Read(ref Counter(queue).Value) + Interlocked.Read(ref _resets);
    }

    /// <summary>Starts listening if this is the first user.</summary>
    public void Acquire()
    {
        lock (_lock)
        {
            if (_users++ == 0)
            {
                _stop = new CancellationTokenSource();
                var token = _stop.Token;
                _loop = Task.Run(() => ListenAsync(token), CancellationToken.None);
            }
        }
    }

    /// <summary>Stops listening when the last user leaves.</summary>
    public async Task ReleaseAsync()
    {
        CancellationTokenSource stop;
        Task loop;
        lock (_lock)
        {
            if (_users == 0 || --_users > 0)
            {
                return;
            }

            (stop, loop) = (_stop!, _loop);
            _stop = null;
        }

        await stop.CancelAsync().ConfigureAwait(false);
        await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        stop.Dispose();
    }

    private StrongBox<long> Counter(int queue) => _appends.GetOrAdd(queue, static _ => new StrongBox<long>());

    private async Task ListenAsync(CancellationToken cancellationToken)
    {
        await PostgresChannel.ListenAsync(dataSource, Channel, OnNotification, OnListening, OnLost, cancellationToken).ConfigureAwait(false);
        StopTrusting();
    }

    private void OnLost(Exception exception)
    {
        StopTrusting();
        LogListenFailed(logger, exception, provider, PostgresChannel.ReconnectDelay);
    }

    // Receivers query at every pull until the next LISTEN; a stamp read before now no longer matches.
    private void StopTrusting()
    {
        _listening = false;
        Interlocked.Increment(ref _resets);
    }

    private void OnListening()
    {
        Interlocked.Increment(ref _resets);
        _listening = true;
        LogListening(logger, provider);
    }

    private Task OnNotification(string payload)
    {
        // '<queue>/<provider>'; other providers' appends are not ours.
        var slash = payload.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0 && payload.AsSpan(slash + 1).SequenceEqual(provider) &&
            int.TryParse(payload.AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out var queue))
        {
            Interlocked.Increment(ref Counter(queue).Value);
        }

        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = 3106, Level = LogLevel.Debug, Message = "Stream {Provider}: listening for appends to the log")]
    private static partial void LogListening(ILogger logger, string provider);

    [LoggerMessage(EventId = 3107, Level = LogLevel.Warning, Message = "Stream {Provider}: lost the connection that listens for appends; receivers query at every pull until it is back (retry in {Delay})")]
    private static partial void LogListenFailed(ILogger logger, Exception exception, string provider, TimeSpan delay);
}
