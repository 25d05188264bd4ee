using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans.Embeddings.Storage;
using Orleans.Embeddings.Storage.Migrations;
using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Storage.Tests.Migrations;

public sealed class SchemaMigratorTests(PostgresServer server)
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task MigrateAsync_FreshDatabase_AppliesEveryEmbeddedMigrationAndRecordsHistory()
    {
        await using var database = await FreshDatabaseAsync();
        var migrator = new SchemaMigrator(database.DataSource, NullLogger<SchemaMigrator>.Instance);

        var applied = await migrator.MigrateAsync(Cancellation);

        Assert.Equal(EmbeddedMigrations.All.Select(m => m.Version), applied.Select(m => m.Version));
        var history = await QueryAsync(database.DataSource, $"SELECT version, checksum FROM {SchemaMigrator.HistoryTable} ORDER BY version");
        Assert.Equal(EmbeddedMigrations.All.Select(m => $"{m.Version}:{m.Checksum}"), history);
        var status = await migrator.GetStatusAsync(Cancellation);
        Assert.True(status.IsUpToDate);
        Assert.Equal(EmbeddedMigrations.LatestVersion, status.DatabaseVersion);
    }

    [Fact]
    public async Task MigrateAsync_DatabaseWithoutTheVectorExtension_CreatesItAndTheDataSourceCanWriteVectorsAtOnce()
    {
        var connectionString = await server.CreateDatabaseAsync("novector", Cancellation, withVectorExtension: false);
        await using var database = new ScratchDatabase(server, connectionString);
        await new SchemaMigrator(database.DataSource, NullLogger<SchemaMigrator>.Instance).MigrateAsync(Cancellation);
        var table = await new CollectionCatalog(database.DataSource).RegisterVersionAsync(
            "fresh", "v1", 3, VectorElementType.Vector, DistanceMetric.Cosine, Cancellation);

        var result = await new EmbeddingTableWriter(database.DataSource).WriteAsync(table, [EmbeddingRow.Upsert("a", 1, new float[] { 1, 0, 0 })], Cancellation);

        Assert.Equal(1, result.Applied);
    }

    [Fact]
    public async Task MigrateAsync_SecondRun_AppliesNothing()
    {
        await using var database = await FreshDatabaseAsync();
        var migrator = new SchemaMigrator(database.DataSource, NullLogger<SchemaMigrator>.Instance);
        await migrator.MigrateAsync(Cancellation);

        var second = await migrator.MigrateAsync(Cancellation);

        Assert.Empty(second);
    }

    [Fact]
    public async Task MigrateAsync_ManyMigratorsAtOnce_ApplyEachMigrationExactlyOnce()
    {
        await using var database = await FreshDatabaseAsync();
        // Each script appends a row, so a migration that ran twice leaves two rows; the sleep
        // widens the window in which a second migrator could slip in without the lock.
        MigrationScript[] scripts =
        [
            new(1, "create_log", "CREATE TABLE applied_log (version int NOT NULL); SELECT pg_sleep(0.3); INSERT INTO applied_log VALUES (1);"),
            new(2, "append", "SELECT pg_sleep(0.2); INSERT INTO applied_log VALUES (2);"),
        ];

        var migrators = Enumerable.Range(0, 8)
            .Select(_ => new SchemaMigrator(database.DataSource, NullLogger<SchemaMigrator>.Instance, scripts))
            .ToList();
        var results = await Task.WhenAll(migrators.Select(m => Task.Run(() => m.MigrateAsync(Cancellation), Cancellation)));

        Assert.Equal(["1", "2"], await QueryAsync(database.DataSource, "SELECT version FROM applied_log ORDER BY version"));
        Assert.Equal(2, results.Sum(r => r.Count));
    }

    [Fact]
    public async Task MigrateAsync_FailingMigration_RollsBackTheWholeBatchAndNamesTheMigration()
    {
        await using var database = await FreshDatabaseAsync();
        MigrationScript[] scripts =
        [
            new(1, "good", "CREATE TABLE first_table (id int);"),
            new(2, "broken", "CREATE TABLE second_table (id int REFERENCES no_such_table (id));"),
        ];
        var migrator = new SchemaMigrator(database.DataSource, NullLogger<SchemaMigrator>.Instance, scripts);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => migrator.MigrateAsync(Cancellation));

        Assert.Contains("0002_broken", error.Message, StringComparison.Ordinal);
        Assert.Contains("no_such_table", error.Message, StringComparison.Ordinal);
        Assert.Equal(["False"], await QueryAsync(database.DataSource, "SELECT to_regclass('first_table') IS NOT NULL"));
        var status = await migrator.GetStatusAsync(Cancellation);
        Assert.Equal(2, status.MissingCount);
    }

    [Fact]
    public async Task MigrateAsync_AppliedMigrationEditedLater_FailsNamingTheMigration()
    {
        await using var database = await FreshDatabaseAsync();
        await new SchemaMigrator(database.DataSource, NullLogger<SchemaMigrator>.Instance, [new(1, "table", "CREATE TABLE t (id int);")])
            .MigrateAsync(Cancellation);
        var edited = new SchemaMigrator(database.DataSource, NullLogger<SchemaMigrator>.Instance, [new(1, "table", "CREATE TABLE t (id bigint);")]);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => edited.MigrateAsync(Cancellation));

        Assert.Contains("0001_table was changed after it was applied", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetStatusAsync_NewMigrationInBuild_ReportsItMissing()
    {
        await using var database = await FreshDatabaseAsync();
        MigrationScript first = new(1, "one", "CREATE TABLE one (id int);");
        await new SchemaMigrator(database.DataSource, NullLogger<SchemaMigrator>.Instance, [first]).MigrateAsync(Cancellation);
        var newer = new SchemaMigrator(database.DataSource, NullLogger<SchemaMigrator>.Instance, [first, new(2, "two", "CREATE TABLE two (id int);")]);

        var status = await newer.GetStatusAsync(Cancellation);

        Assert.Equal(new SchemaStatus(1, 2, 1), status);
        Assert.False(status.IsUpToDate);
    }

    [Fact]
    public async Task MigrateAsync_TokenizerRevision_GivesExistingVersionsTheLegacyTokenizerAndNewOnesTheExactOne()
    {
        await using var database = await FreshDatabaseAsync();
        var beforeRevisions = EmbeddedMigrations.All.Where(m => m.Version < 10).ToList();
        await new SchemaMigrator(database.DataSource, NullLogger<SchemaMigrator>.Instance, beforeRevisions).MigrateAsync(Cancellation);
        // The row as a registration wrote it before migration 0010 (today's catalog reads the later migrations' columns).
        await using (var insert = database.DataSource.CreateCommand(
            "INSERT INTO embeddings_collections (name) VALUES ('tok'); INSERT INTO embeddings_model_versions (collection, version, dimensions, element_type, distance, table_name) VALUES ('tok', 'old', 4, 'vector', 'cosine', 'emb_tok_old')"))
        {
            await insert.ExecuteNonQueryAsync(Cancellation);
        }

        await new SchemaMigrator(database.DataSource, NullLogger<SchemaMigrator>.Instance).MigrateAsync(Cancellation);
        await new CollectionCatalog(database.DataSource).RegisterVersionAsync("tok", "new", 4, VectorElementType.Vector, DistanceMetric.Cosine, Cancellation);

        // The old version was embedded with Microsoft.ML.Tokenizers' BertTokenizer and must keep tokenizing with it.
        Assert.Equal(
            ["new:bert-hf", "old:mltokenizers-bert-2.0"],
            await QueryAsync(database.DataSource, "SELECT version, tokenizer_revision FROM embeddings_model_versions ORDER BY version"));
    }

    [Fact]
    public async Task GetStatusAsync_EmptyDatabase_ReportsVersionZero()
    {
        await using var database = await FreshDatabaseAsync();

        var status = await new SchemaMigrator(database.DataSource, NullLogger<SchemaMigrator>.Instance).GetStatusAsync(Cancellation);

        Assert.Equal(0, status.DatabaseVersion);
        Assert.Equal(EmbeddedMigrations.All.Count, status.MissingCount);
    }

    private async Task<ScratchDatabase> FreshDatabaseAsync()
    {
        var connectionString = await server.CreateDatabaseAsync("migrations", Cancellation);
        return new ScratchDatabase(server, connectionString);
    }

    private static async Task<List<string>> QueryAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync(Cancellation);
        var rows = new List<string>();
        while (await reader.ReadAsync(Cancellation))
        {
            rows.Add(string.Join(':', Enumerable.Range(0, reader.FieldCount).Select(i => Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
        }

        return rows;
    }

    private sealed class ScratchDatabase(PostgresServer server, string connectionString) : IAsyncDisposable
    {
        public NpgsqlDataSource DataSource { get; } = EmbeddingsDataSource.Create(connectionString);

        public async ValueTask DisposeAsync()
        {
            await DataSource.DisposeAsync();
            await server.DropDatabaseAsync(connectionString);
        }
    }
}
