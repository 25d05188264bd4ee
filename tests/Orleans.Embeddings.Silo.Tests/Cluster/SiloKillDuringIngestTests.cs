using Orleans.Embeddings.Client.Publishing;
using Orleans.Embeddings.Collections;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Storage.Naming;
using Orleans.Embeddings.Storage.Routing;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Silo.Tests.Cluster;

/// <summary>
/// The indexing pipeline across three silo processes (ADO.NET clustering, the PostgreSQL log): A and B host workers, W
/// hosts none, so W's document grains send every change to A's or B's worker. B is killed with SIGKILL while changes
/// are still being published and indexed: W retries its calls to B's worker on A's, and every document still ends at
/// its last change, with the vector of its last text.
/// </summary>
public sealed class SiloKillDuringIngestTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private const string Collection = "kill";
    private const int Documents = 1500;
    private const int Rounds = 5;
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(90);

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    private static string Text(int i, int round) => $"package {i} revision {round} word w{i * 7} and w{(i + round) * 13}";

    [Fact]
    public async Task Killing_silo_B_process_mid_ingest_loses_no_change_and_calls_to_its_worker_are_retried()
    {
        var clusterId = $"kill-{Guid.NewGuid():N}"[..20];
        var settings = ProcessCluster.Settings(database.ConnectionString, clusterId);

        await using var siloA = SiloProcess.Start("A", settings);
        await siloA.WaitUntilReadyAsync(s_startTimeout, Cancellation);
        await using var siloB = SiloProcess.Start("B", settings);
        await siloB.WaitUntilReadyAsync(s_startTimeout, Cancellation);
        await using var siloW = SiloProcess.Start("W", new Dictionary<string, string>(settings) { ["Embeddings:Indexer:HostsWorkers"] = "false" });
        await siloW.WaitUntilReadyAsync(s_startTimeout, Cancellation);
        Assert.Equal(0, await RetriesAsync(siloW));

        var models = Directory.CreateTempSubdirectory("oe-kill-").FullName;
        try
        {
            var model = new StaticEmbeddingModelBuilder { Dimensions = 32, MaxTokens = 32, Seed = 2 }
                .Build(Enumerable.Range(0, Documents).SelectMany(i => Enumerable.Range(1, Rounds).Select(r => Text(i, r))), Path.Combine(models, "v1"), "kill-v1");
            var setup = new CollectionSetup(new CollectionCatalog(database.DataSource), new RoutingStore(database.DataSource));
            var table = (await setup.CreateAsync(Collection, "v1", model.Directory, cancellationToken: Cancellation)).QuotedTable;

            await using var publisher = new PostgresLogPublisher(database.DataSource, "documents");
            var publishing = Task.Run(
                async () =>
                {
                    for (var round = 1; round <= Rounds; round++)
                    {
                        await publisher.PublishManyAsync(
                            [.. Enumerable.Range(0, Documents).Select(i => new DocumentChange(Collection, $"p{i}", DocumentOperation.Upsert, round, Text(i, round), "{}"))],
                            Cancellation);
                        await Task.Delay(400, Cancellation);
                    }
                },
                Cancellation);

            // Every silo reads some of the log's queues; kill B once the first round is half written.
            await WaitForAsync($"SELECT count(*) FROM {table}", Documents / 2, TimeSpan.FromSeconds(90), siloA, siloB, siloW);
            await siloB.KillAsync();
            var finalAtKill = await CountAsync($"SELECT count(*) FROM {table} WHERE seq = {Rounds}");
            Assert.True(finalAtKill < Documents, $"the ingest was over ({finalAtKill} documents at their last change) before B was killed");
            await publishing;

            // B's queues move to A once B is declared dead; what B had read but not acknowledged is delivered again.
            await WaitForAsync($"SELECT count(*) FROM {table} WHERE seq = {Rounds}", Documents, TimeSpan.FromSeconds(180), siloA, siloB, siloW);
            Assert.Equal(Documents, await CountAsync($"SELECT count(*) FROM {table}"));
            Assert.Equal(Documents, await CountAsync($"SELECT count(*) FROM embeddings_documents WHERE collection = '{Collection}' AND seq = {Rounds}"));
            Assert.False(siloA.HasExited, siloA.Output);
            Assert.False(siloW.HasExited, siloW.Output);

            // W's calls to B's worker that failed with B were retried on A's.
            var retries = await RetriesAsync(siloW);
            Assert.True(retries > 0, $"W retried no worker call after B was killed\nW's output:\n{siloW.Output}");

            // Each vector is the model's embedding of the document's last text.
            await ProcessCluster.AssertVectorsAsync(
                database.DataSource, table, model, Enumerable.Range(0, Documents).Where(i => i % 50 == 0).ToDictionary(i => $"p{i}", i => Text(i, Rounds)));
        }
        finally
        {
            Directory.Delete(models, recursive: true);
        }
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var command = database.DataSource.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync(Cancellation))!;
    }

    private Task WaitForAsync(string sql, long expected, TimeSpan timeout, params SiloProcess[] silos)
    {
        long seen = -1;
        return ProcessCluster.WaitUntilAsync(
            async () => (seen = await CountAsync(sql)) >= expected,
            timeout,
            () => $"'{sql}' reached {seen}, not {expected}, within {timeout}.{string.Concat(silos.Select(s => $"\n{s.Name}'s output:\n{s.Output}"))}",
            TimeSpan.FromMilliseconds(100));
    }

    // The silo's embeddings.worker.retries counter, from its Prometheus endpoint (0 before the first retry).
    private static async Task<long> RetriesAsync(SiloProcess silo)
    {
        var (status, body) = await silo.GetAsync("/metrics", Cancellation);
        Assert.Equal(System.Net.HttpStatusCode.OK, status);
        return body.Split('\n')
            .Where(line => line.StartsWith("embeddings_worker_retries", StringComparison.Ordinal))
            .Sum(line => (long)double.Parse( // name{labels} value [timestamp]
                line[(line.LastIndexOf('}') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], System.Globalization.CultureInfo.InvariantCulture));
    }
}
