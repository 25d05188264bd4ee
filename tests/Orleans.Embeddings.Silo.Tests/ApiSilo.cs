using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Embeddings.Client.Publishing;
using Orleans.Embeddings.Collections;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Storage;
using Orleans.Embeddings.Storage.Naming;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Silo.Tests;

/// <summary>
/// The real silo application on a database of its own, with an operator and a search token, and a collection "docs"
/// (v1: a 16-dimension static model) holding <see cref="Documents"/> documents d0… (or as many as asked) with metadata {"topic": i mod 17}.
/// </summary>
internal sealed class ApiSilo : IAsyncDisposable
{
    public const string OperatorToken = "operator-token-0123456789";
    public const string SearchToken = "search-token-0123456789ab";
    public const int Documents = 200;

    private readonly PostgresServer _server;
    private string _connectionString = string.Empty;
    private WebApplication _app = null!;

    private ApiSilo(PostgresServer server, string models, int documents)
    {
        _server = server;
        Models = models;
        DocumentCount = documents;
    }

    /// <summary>How many documents "docs" holds.</summary>
    public int DocumentCount { get; }

    /// <summary>The silo's web address.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>The connection string of the silo's database.</summary>
    public string ConnectionString => _connectionString;

    /// <summary>A scratch folder for model folders.</summary>
    public string Models { get; }

    /// <summary>The text of document <paramref name="i"/>.</summary>
    public static string Text(int i) => $"document {i} about topic {i % 17} and word w{i * 31}";

    /// <summary>The documents' texts (the models' vocabulary).</summary>
    public static IEnumerable<string> Texts(int documents = Documents) => Enumerable.Range(0, documents).Select(Text);

    /// <summary>Starts the silo (with <paramref name="settings"/> added, <c>--Key=value</c>), creates "docs" and waits until its <paramref name="documents"/> documents are indexed.</summary>
    public static async Task<ApiSilo> StartAsync(PostgresServer server, string name, CancellationToken cancellationToken, int documents = Documents, IEnumerable<string>? settings = null)
    {
        var silo = new ApiSilo(server, Directory.CreateTempSubdirectory($"oe-{name}-").FullName, documents);
        silo._connectionString = await server.CreateDatabaseAsync(name, cancellationToken);
        var ports = LoopbackPorts.GetFree(3);
        silo.Address = new Uri($"http://127.0.0.1:{ports[0]}");
        silo._app = SiloApplication.Build(
        [
            $"--Urls={silo.Address}",
            $"--Embeddings:Database:ConnectionString={silo._connectionString}",
            $"--Embeddings:Cluster:SiloPort={ports[1]}",
            $"--Embeddings:Cluster:GatewayPort={ports[2]}",
            $"--Embeddings:Cluster:ClusterId={name}-{ports[1]}",
            $"--Embeddings:Api:OperatorToken={OperatorToken}",
            $"--Embeddings:Api:SearchToken={SearchToken}",
            "--Embeddings:Demo:Enabled=false",
            "--Embeddings:Indexer:Rollouts:TickInterval=00:00:00.200",
            "--Logging:LogLevel:Default=Warning",
            .. settings ?? [],
        ]);
        await silo._app.StartAsync(cancellationToken);

        var v1 = Path.Combine(silo.Models, "v1");
        new StaticEmbeddingModelBuilder { Dimensions = 16, MaxTokens = 32, Seed = 1 }.Build(Texts(documents), v1, "cli-v1");
        await silo._app.Services.GetRequiredService<CollectionSetup>().CreateAsync("docs", "v1", v1, cancellationToken: cancellationToken);
        await using var dataSource = EmbeddingsDataSource.Create(silo._connectionString);
        await using (var publisher = new PostgresLogPublisher(dataSource, "documents"))
        {
            await publisher.PublishManyAsync(
                [.. Enumerable.Range(0, documents).Select(i => new DocumentChange("docs", $"d{i}", DocumentOperation.Upsert, 1, Text(i), $$"""{"topic": {{i % 17}}}"""))],
                cancellationToken);
        }

        await WaitForIndexedAsync(dataSource, documents, cancellationToken);
        return silo;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        await _server.DropDatabaseAsync(_connectionString);
        Directory.Delete(Models, recursive: true);
    }

    private static async Task WaitForIndexedAsync(NpgsqlDataSource dataSource, int documents, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        await using var command = dataSource.CreateCommand($"SELECT count(*) FROM {StorageNames.Quote(StorageNames.VersionTableName("docs", "v1"))}");
        while ((long)(await command.ExecuteScalarAsync(cancellationToken))! < documents)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The {documents} documents of docs were not indexed within a minute.");
            }

            await Task.Delay(100, cancellationToken);
        }
    }
}
