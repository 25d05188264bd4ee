using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Embeddings.Client.Publishing;
using Orleans.Embeddings.Collections;
using Orleans.Embeddings.Indexing;
using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Testing;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace Orleans.Embeddings.Tests.Indexing;

/// <summary>
/// Two in-process silos with the whole indexing pipeline on a database of their own: the PostgreSQL log, document
/// grains, one CPU worker per silo, and a static model built from <see cref="Text"/>. A test class that needs other
/// indexer settings derives a fixture of its own, so that no second cluster shares the database and its log.
/// </summary>
public class IndexerCluster(PostgresServer server) : IAsyncLifetime
{
    /// <summary>The stream provider name.</summary>
    public const string Provider = "documents";

    /// <summary>Documents the model's vocabulary was built from.</summary>
    public const int CorpusSize = 6000;

    private readonly MigratedPostgresDatabase _database = new(server);
    private string _modelDirectory = string.Empty;
    private string _secondModelDirectory = string.Empty;

    /// <summary>The cluster.</summary>
    public InProcessTestCluster Cluster { get; private set; } = null!;

    /// <summary>The database.</summary>
    public NpgsqlDataSource DataSource => _database.DataSource;

    /// <summary>The connection string of the database every silo uses.</summary>
    public string ConnectionString => _database.ConnectionString;

    /// <summary>The folder of the static model.</summary>
    public string ModelDirectory => _modelDirectory;

    /// <summary>The folder of a second static model (other dimensions and seed) to roll out.</summary>
    public string SecondModelDirectory => _secondModelDirectory;

    /// <summary>A publisher to the cluster's log.</summary>
    public IDocumentChangePublisher CreatePublisher() => new PostgresLogPublisher(DataSource, Provider);

    /// <summary>The text of document <paramref name="i"/>: each has words no other document has.</summary>
    public static string Text(int i) => $"note {Word(i)} about streaming {Word((i * 7919) + 13)} and {Word(i + 100_000)}";

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        await _database.InitializeAsync();
        _modelDirectory = Directory.CreateTempSubdirectory("oe-indexer-model-").FullName;
        new StaticEmbeddingModelBuilder { Dimensions = 64, MaxTokens = 32, Seed = 3, MaxWords = 40_000 }
            .Build(Enumerable.Range(0, CorpusSize).Select(Text), _modelDirectory, "test-static");
        _secondModelDirectory = Directory.CreateTempSubdirectory("oe-indexer-model2-").FullName;
        new StaticEmbeddingModelBuilder { Dimensions = 48, MaxTokens = 32, Seed = 5, MaxWords = 40_000 }
            .Build(Enumerable.Range(0, CorpusSize).Select(Text), _secondModelDirectory, "test-static-2");
        Cluster = await StartClusterAsync();
    }

    /// <summary>The connection string the silos use, from the database's own.</summary>
    protected virtual string SiloConnectionString(string connectionString) => connectionString;

    /// <summary>Indexer settings of every silo, on top of the fixture's own.</summary>
    protected virtual void ConfigureIndexer(Orleans.Embeddings.Hosting.IndexerOptions options)
    {
    }

    private async Task<InProcessTestCluster> StartClusterAsync()
    {
        var builder = new InProcessTestClusterBuilder(2);
        builder.Options.ConfigureFileLogging = false;
        var connectionString = SiloConnectionString(_database.ConnectionString);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddEmbeddingsStorage(o => o.ConnectionString = connectionString);
            silo.AddPostgresLogStreams(Provider, o => o.Configure(p => p.VisibilityTimeout = TimeSpan.FromSeconds(5)));
            silo.AddEmbeddingIndexer(o =>
            {
                o.RoutingPollInterval = TimeSpan.FromSeconds(1);
                o.Rollouts.TickInterval = TimeSpan.FromMilliseconds(200);
                o.Rollouts.SupervisorInterval = TimeSpan.FromSeconds(1);
                o.Rollouts.DropGrace = TimeSpan.FromMilliseconds(500);
                o.Rollouts.AckTimeout = TimeSpan.FromSeconds(20);
                o.Rollouts.PageSize = 50;
                o.Search.LogFlushInterval = TimeSpan.FromMilliseconds(200);
                ConfigureIndexer(o);
            });
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    /// <summary>Creates a collection served by the static model.</summary>
    public Task<VersionTable> CreateCollectionAsync(string collection, string version = "v1") =>
        Cluster.Silos[0].ServiceProvider.GetRequiredService<CollectionSetup>().CreateAsync(collection, version, _modelDirectory);

    /// <summary>The worker of (collection, version) on the device "cpu" of silo <paramref name="silo"/>.</summary>
    public IEmbeddingWorkerGrain Worker(string collection, string version, string silo) =>
        Cluster.Client.GetGrain<IEmbeddingWorkerGrain>(new WorkerKey(collection, version, silo, "cpu").ToString());

    /// <summary>The statistics of the workers of every active silo, summed.</summary>
    public async Task<(long Texts, long Rows, long Metadata)> TotalsAsync(InProcessTestCluster cluster, string collection, string version)
    {
        long texts = 0, rows = 0, metadata = 0;
        foreach (var silo in cluster.GetActiveSilos())
        {
            var statistics = await cluster.Client.GetGrain<IEmbeddingWorkerGrain>(new WorkerKey(collection, version, silo.Name, "cpu").ToString()).GetStatisticsAsync();
            texts += statistics.TextsEmbedded;
            rows += statistics.RowsWritten;
            metadata += statistics.MetadataUpdates;
        }

        return (texts, rows, metadata);
    }

    /// <summary>Waits until <paramref name="sql"/> (one scalar, $1 = <paramref name="argument"/>) reaches <paramref name="expected"/>.</summary>
    public async Task WaitForAsync(string sql, object argument, long expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        long seen = -1;
        while (DateTime.UtcNow < deadline)
        {
            await using var command = DataSource.CreateCommand(sql);
            command.Parameters.AddWithValue(argument);
            seen = Convert.ToInt64(await command.ExecuteScalarAsync() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
            if (seen >= expected)
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"'{sql}' reached {seen}, not {expected}, within {timeout}.");
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }

        await _database.DisposeAsync();
        Directory.Delete(_modelDirectory, recursive: true);
        Directory.Delete(_secondModelDirectory, recursive: true);
    }

    private static string Word(int n)
    {
        var letters = new System.Text.StringBuilder("q");
        do
        {
            letters.Append((char)('a' + (n % 26)));
            n /= 26;
        }
        while (n > 0);

        return letters.ToString();
    }
}
