using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans.Embeddings.Storage.Migrations;
using Xunit;

namespace Orleans.Embeddings.Testing;

/// <summary>A <see cref="PostgresDatabase"/> of its own for one test class, with every schema migration applied.</summary>
public sealed class MigratedPostgresDatabase(PostgresServer server) : IAsyncLifetime
{
    private readonly PostgresDatabase _database = new(server);

    /// <summary>A connection string to this database.</summary>
    public string ConnectionString => _database.ConnectionString;

    /// <summary>A data source for this database with pgvector's types mapped.</summary>
    public NpgsqlDataSource DataSource => _database.DataSource;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        await _database.InitializeAsync().ConfigureAwait(false);
        await new SchemaMigrator(_database.DataSource, NullLogger<SchemaMigrator>.Instance).MigrateAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _database.DisposeAsync();
}
