using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans.Embeddings.Storage;
using Orleans.Embeddings.Storage.Migrations;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Benchmarks;

/// <summary>
/// A scratch database on the local PostgreSQL (started or reused through infra/postgres/setup.sh, or the
/// server named by EMBEDDINGS_BENCH_PG), migrated, and dropped when the benchmark ends.
/// </summary>
internal sealed class BenchmarkDatabase : IAsyncDisposable
{
    private readonly string _adminConnectionString;

    private BenchmarkDatabase(string adminConnectionString, string connectionString)
    {
        _adminConnectionString = adminConnectionString;
        ConnectionString = connectionString;
        DataSource = EmbeddingsDataSource.Create(connectionString);
    }

    public string ConnectionString { get; }

    public NpgsqlDataSource DataSource { get; }

    public static async Task<BenchmarkDatabase> CreateAsync(string name, CancellationToken cancellationToken)
    {
        var admin = Environment.GetEnvironmentVariable("EMBEDDINGS_BENCH_PG") ?? await StartLocalPostgresAsync(cancellationToken);
        var database = $"bench_{name}_{Guid.NewGuid():N}"[..30];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync(cancellationToken);
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database}\"", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        var result = new BenchmarkDatabase(admin, new NpgsqlConnectionStringBuilder(admin) { Database = database, CommandTimeout = 0 }.ConnectionString);
        await new SchemaMigrator(result.DataSource, NullLogger<SchemaMigrator>.Instance).MigrateAsync(cancellationToken);
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        var database = new NpgsqlConnectionStringBuilder(ConnectionString).Database;
        await using var connection = new NpgsqlConnection(_adminConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }

    private static async Task<string> StartLocalPostgresAsync(CancellationToken cancellationToken)
    {
        var script = Path.Combine(RepositoryPaths.Root, "infra", "postgres", "setup.sh");
        var output = await ChildProcess.RunAsync("bash", [script], TimeSpan.FromMinutes(10), cancellationToken);
        const string prefix = "EMBEDDINGS_PG_CONNECTION=";
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))
            ?? throw new UnreachableException($"{script} printed no {prefix} line.");
        return line[prefix.Length..].Trim();
    }
}
