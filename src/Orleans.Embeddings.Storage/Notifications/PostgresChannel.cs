using System.Threading.Channels;
using Npgsql;

namespace Orleans.Embeddings.Storage.Notifications;

/// <summary>Listens to a PostgreSQL notification channel (<c>LISTEN</c>) on one connection of a data source.</summary>
public static class PostgresChannel
{
    private static readonly TimeSpan LivenessCheck = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Opens a connection, listens to <paramref name="channel"/>, calls <paramref name="onListening"/> once it does,
    /// then hands each notification's payload to <paramref name="onNotification"/>, in order, until cancelled.
    /// </summary>
    /// <remarks>
    /// It returns only by cancellation; a lost connection throws, and the caller reconnects and re-reads what it may
    /// have missed. A connection quiet for 30 s is checked with a query, so a peer that died silently is noticed.
    /// </remarks>
    public static async Task ListenAsync(
        NpgsqlDataSource dataSource, string channel, Func<string, Task> onNotification, Action? onListening, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(onNotification);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var pending = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        connection.Notification += (_, e) => pending.Writer.TryWrite(e.Payload);
        await using (var listen = new NpgsqlCommand($"LISTEN {channel}", connection))
        {
            await listen.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        onListening?.Invoke();
        while (!cancellationToken.IsCancellationRequested)
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

        cancellationToken.ThrowIfCancellationRequested();
    }
}
