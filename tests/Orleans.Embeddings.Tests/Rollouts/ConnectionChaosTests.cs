using Npgsql;
using Orleans.Embeddings.Client.Publishing;
using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Storage;
using Orleans.Embeddings.Testing;
using Orleans.Embeddings.Tests.Indexing;
using static Orleans.Embeddings.Tests.Rollouts.RolloutAssertions;

namespace Orleans.Embeddings.Tests.Rollouts;

/// <summary>
/// DESIGN invariants 1-3 while PostgreSQL drops the silos' connections: every client backend of the silos is terminated
/// (<c>pg_terminate_backend</c>) at random moments through a rollout under live upserts and deletes. The producer and
/// the test's own reads use connections the chaos spares, so what was published is known exactly.
/// </summary>
public sealed class ConnectionChaosTests(IndexerCluster indexer) : IClassFixture<IndexerCluster>
{
    private const string Spared = "chaos-spared";
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(180);

    [Fact]
    public async Task A_rollout_under_live_changes_converges_while_connections_are_terminated_at_random()
    {
        var ct = TestContext.Current.CancellationToken;
        const string collection = "chaos";
        await indexer.CreateCollectionAsync(collection);
        await using var spared = EmbeddingsDataSource.Create(new NpgsqlConnectionStringBuilder(indexer.ConnectionString) { ApplicationName = Spared }.ConnectionString);
        await using var publisher = new PostgresLogPublisher(spared, IndexerCluster.Provider);
        var producer = new LiveProducer(publisher, collection, documents: 1000);
        await producer.SeedAsync(ct);
        await WaitForTableToMatchAsync(spared, collection, "v1", producer.Expected, Long);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var live = producer.RunAsync(perBatch: 20, TimeSpan.FromMilliseconds(50), stop.Token);
        var chaos = ConnectionChaos.RunAsync(spared, Spared, seed: 7, stop.Token);

        var coordinator = indexer.Cluster.Client.GetGrain<IVersionCoordinatorGrain>(collection);
        await RetryAsync(() => coordinator.RegisterModelAsync("v2", indexer.SecondModelDirectory));
        await RetryAsync(() => coordinator.StartRolloutAsync("v2"));
        var failedPolls = await WaitForReadyAsync(coordinator, "v2");
        await Task.Delay(2000, ct);
        await stop.CancelAsync();
        await live;
        var terminated = await chaos;
        // Passing tests' output is not shown: the figures go to connection-chaos.log beside the test binaries.
        File.AppendAllText(
            Path.Combine(AppContext.BaseDirectory, "connection-chaos.log"),
            $"{DateTime.UtcNow:O} {terminated} connections terminated during the rollout, {producer.Sent} changes published, {failedPolls} status polls failed in PostgreSQL{Environment.NewLine}");
        Assert.True(terminated >= 20, $"only {terminated} connections were terminated");

        await WaitForTableToMatchAsync(spared, collection, "v1", producer.Expected, Long);
        await WaitForTableToMatchAsync(spared, collection, "v2", producer.Expected, Long);
    }

    // An operator polling the status while connections are terminated sees some polls fail, naming PostgreSQL, and polls again.
    private static async Task<int> WaitForReadyAsync(IVersionCoordinatorGrain coordinator, string version)
    {
        var deadline = DateTime.UtcNow + Long;
        var failedPolls = 0;
        while (true)
        {
            try
            {
                var status = await coordinator.GetStatusAsync();
                if (status.Version(version).State == VersionState.Ready)
                {
                    return failedPolls;
                }

                Assert.True(DateTime.UtcNow < deadline, $"{version} was not Ready within {Long}: {Describe(status)}");
            }
            catch (DatabaseFailureException ex) when (ex.Transient && DateTime.UtcNow < deadline)
            {
                failedPolls++;
            }

            await Task.Delay(200);
        }
    }

    // An operator command whose connection was terminated under it fails with that error; the operator repeats it
    // (every command is idempotent).
    private static async Task RetryAsync<T>(Func<Task<T>> command)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await command();
                return;
            }
            catch (DatabaseFailureException ex) when (attempt < 10 && ex.Transient)
            {
                await Task.Delay(500);
            }
        }
    }
}
