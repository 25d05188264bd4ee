using System.Threading.Channels;
using Npgsql;

namespace Orleans.Embeddings.Storage.Notifications;

/// <summary>Listens to a PostgreSQL notification channel (<c>LISTEN</c>) on one connection of a data source.</summary>
public static class PostgresChannel
{
    private static readonly TimeSpan LivenessCheck = TimeSpan.FromSeconds(30);

    /// <summary>How long a listener waits before it reconnects after losing its connection.</summary>
    public static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Listens to <paramref name="channel"/> until cancelled, handing each notification's payload to
    /// <paramref name="onNotification"/>, in order. <paramref name="onListening"/> runs each time the <c>LISTEN</c> is in
    /// place; <paramref name="onLost"/> runs with the cause each time the connection is lost (or a handler failed), after
    /// which it reconnects in <see cref="ReconnectDelay"/>. Notifications sent meanwhile are missed: the caller re-reads
    /// what it may have missed when it is listening again.
    /// </summary>
    /// <remarks>A connection quiet for 30 s is checked with a query, so a peer that died silently is noticed.</remarks>
    public static async Task ListenAsync(
        NpgsqlDataSource dataSource, string channel, Func<string, Task> onNotification, Action? onListening, Action<Exception> onLost,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(onNotification);
        ArgumentNullException.ThrowIfNull(onLost);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await ListenOnceAsync(dataSource, channel, onNotification, onListening, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return; // the data source went with its host
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                onLost(ex);
            }

            await Task.Delay(ReconnectDelay, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private static async Task ListenOnceAsync(
        NpgsqlDataSource dataSource, string channel, Func<string, Task> onNotification, Action? onListening, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var pending = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        connection.Notification += (_, e) => pending.Writer.TryWrite(e.Payload);
        await using (var listen = new NpgsqlCommand($"LISTEN {channel}", connection))
        {
            await listen.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        onListening?.Invoke();
        while (true)
        {
            if (!await connection.WaitAsync(LivenessCheck, cancellationToken).ConfigureAwait(false))
            {
                await using var ping = new NpgsqlCommand("SELECT 1", connection) { CommandTimeout = 10 };
                await ping.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            }

            while (pending.Reader.TryRead(out var payload))
            {
                await onNotification(payload).ConfigureAwait(false);
            }
        }
    }
}
