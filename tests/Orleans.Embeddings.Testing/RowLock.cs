using Npgsql;
using Orleans.Embeddings.Storage;

namespace Orleans.Embeddings.Testing;

/// <summary>
/// Makes a statement fail the way it does while PostgreSQL restarts: rows locked by a transaction of the test's own,
/// and a data source whose statements give up on a locked row at once (<c>lock_timeout</c> 200 ms).
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

    /// <summary>A data source on <paramref name="connectionString"/> whose statements fail after 200 ms on a locked row.</summary>
    public static NpgsqlDataSource ImpatientDataSource(string connectionString) =>
        EmbeddingsDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { Options = "-c lock_timeout=200" }.ConnectionString);

    /// <summary>Locks the rows <paramref name="selectForUpdate"/> (with its one parameter, <c>$1</c>) returns, until disposed.</summary>
    public static async Task<RowLock> TakeAsync(NpgsqlDataSource dataSource, string selectForUpdate, object parameter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var command = new NpgsqlCommand(selectForUpdate, connection, transaction))
        {
            command.Parameters.AddWithValue(parameter);
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
