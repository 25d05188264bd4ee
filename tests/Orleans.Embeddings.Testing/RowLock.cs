using Npgsql;
using Orleans.Embeddings.Storage;

namespace Orleans.Embeddings.Testing;

/// <summary>
/// Makes a statement fail the way it does while PostgreSQL restarts: rows (or a whole table) locked by a transaction of
/// the test's own, and connections whose statements give up on a lock at once (<c>lock_timeout</c> 200 ms).
/// </summary>
public sealed class RowLock : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;

    private RowLock(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        _connection = connection;
        _transaction = transaction;
    }

    /// <summary><paramref name="connectionString"/> with statements that fail after 200 ms waiting for a lock.</summary>
    public static string ImpatientConnectionString(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Options = "-c lock_timeout=200" }.ConnectionString;

    /// <summary>A data source on <paramref name="connectionString"/> whose statements fail after 200 ms on a locked row.</summary>
    public static NpgsqlDataSource ImpatientDataSource(string connectionString) => EmbeddingsDataSource.Create(ImpatientConnectionString(connectionString));

    /// <summary>Locks the rows <paramref name="selectForUpdate"/> (with its one parameter, <c>$1</c>) returns, until disposed.</summary>
    public static Task<RowLock> TakeAsync(NpgsqlDataSource dataSource, string selectForUpdate, object parameter, CancellationToken cancellationToken) =>
        LockAsync(dataSource, selectForUpdate, parameter, cancellationToken);

    /// <summary>Locks <paramref name="table"/> against reads and writes alike (a row lock does not stop a read), until disposed.</summary>
    public static Task<RowLock> TakeTableAsync(NpgsqlDataSource dataSource, string table, CancellationToken cancellationToken) =>
        LockAsync(dataSource, $"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE", null, cancellationToken);

    private static async Task<RowLock> LockAsync(NpgsqlDataSource dataSource, string sql, object? parameter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var command = new NpgsqlCommand(sql, connection, transaction))
        {
            if (parameter is not null)
            {
                command.Parameters.AddWithValue(parameter);
            }

            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        return new RowLock(connection, transaction);
    }

    /// <summary>Releases the rows (rolls the transaction back).</summary>
    public async ValueTask DisposeAsync()
    {
        await _transaction.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
