using Npgsql;

namespace Orleans.Embeddings.Testing;

/// <summary>
/// Drops connections the way a database in trouble does: every client connection of the database but the caller's own
/// and those of one application name is terminated (<c>pg_terminate_backend</c>) at random moments 0.2–1.2 s apart.
/// </summary>
public static class ConnectionChaos
{
    /// <summary>
    /// Terminates connections until <paramref name="cancellationToken"/> is cancelled, through <paramref name="dataSource"/>
    /// (whose connections should carry <paramref name="sparedApplication"/> as their application name, so that they are
    /// spared); returns how many were terminated.
    /// </summary>
    public static async Task<long> RunAsync(NpgsqlDataSource dataSource, string sparedApplication, int seed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var random = new Random(seed);
        long terminated = 0;
        while (true)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(200, 1200)), cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (cancellationToken.IsCancellationRequested)
            {
                return terminated;
            }

            await using var kill = dataSource.CreateCommand(
                """
                SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE datname = current_database() AND backend_type = 'client backend'
                   AND pid <> pg_backend_pid() AND application_name <> @spared
                """);
            kill.Parameters.AddWithValue("spared", sparedApplication);
            terminated += (long)(await kill.ExecuteScalarAsync(CancellationToken.None).ConfigureAwait(false))!;
        }
    }
}
