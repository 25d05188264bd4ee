using Npgsql;
using Orleans.Embeddings.Storage;
using Xunit;

namespace Orleans.Embeddings.Testing;

/// <summary>
/// A database of its own for one test class (<c>IClassFixture&lt;PostgresDatabase&gt;</c>), on the assembly's
/// <see cref="PostgresServer"/>, so that test classes run in parallel without seeing each other's rows.
/// </summary>
public sealed class PostgresDatabase(PostgresServer server) : IAsyncLifetime
{
    private NpgsqlDataSource? _dataSource;

    /// <summary>The server this database lives on.</summary>
    public PostgresServer Server { get; } = server;

    /// <summary>A connection string to this database.</summary>
    public string ConnectionString { get; private set; } = string.Empty;

    /// <summary>A data source for this database with pgvector's types mapped.</summary>
    public NpgsqlDataSource DataSource => _dataSource ?? throw new InvalidOperationException("The database has not been created yet.");

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        ConnectionString = await Server.CreateDatabaseAsync("t").ConfigureAwait(false);
        _dataSource = EmbeddingsDataSource.Create(ConnectionString);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }

        if (ConnectionString.Length > 0)
        {
            await Server.DropDatabaseAsync(ConnectionString).ConfigureAwait(false);
        }
    }
}
