using Npgsql;

namespace Orleans.Embeddings.Storage;

/// <summary>Which database failures are worth repeating the work for.</summary>
public static class PostgresFailures
{
    /// <summary>
    /// Whether <paramref name="exception"/> (or what it wraps) is the connection or the server going away rather than
    /// the statement being wrong: a network or I/O failure, a connection exception (SQLSTATE class 08), an operator
    /// intervention such as <c>pg_terminate_backend</c> or a shutdown (57P01–57P05), or what Npgsql marks transient. The
    /// same work succeeds once the database is back.
    /// </summary>
    public static bool IsConnectionLoss(Exception? exception)
    {
        // The first Npgsql exception in the chain decides (a task's AggregateException wraps it; it wraps an IOException).
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case PostgresException postgres:
                    return postgres.IsTransient || postgres.SqlState.StartsWith("08", StringComparison.Ordinal) || postgres.SqlState.StartsWith("57P", StringComparison.Ordinal);
                case NpgsqlException:
                    return true;
            }
        }

        return false;
    }
}
