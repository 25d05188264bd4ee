using Orleans.Core.Internal;
using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Tests.Indexing;
using static Orleans.Embeddings.Tests.Rollouts.RolloutAssertions;

namespace Orleans.Embeddings.Tests.Rollouts;

/// <summary>
/// A silo dies during the bulk load and the coordinator loses its activation: the shard ranges of the dead silo resume
/// from their checkpoints on the other one, the coordinator from its stored state, and the version still converges.
/// </summary>
public sealed class RolloutSiloLossTests(IndexerCluster indexer) : IClassFixture<IndexerCluster>
{
    [Fact]
    public async Task Killing_a_silo_during_the_bulk_load_resumes_from_checkpoints_and_converges()
    {
        var ct = TestContext.Current.CancellationToken;
        const string collection = "killload";
        const int documents = 6000;
        await indexer.CreateCollectionAsync(collection);
        await using var publisher = indexer.CreatePublisher();
        var producer = new LiveProducer(publisher, collection, documents);
        await producer.SeedAsync(ct);
        await indexer.WaitForAsync("SELECT count(*) FROM embeddings_documents WHERE collection = $1", collection, documents, TimeSpan.FromSeconds(120));

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var live = producer.RunAsync(perBatch: 10, TimeSpan.FromMilliseconds(100), stop.Token);
        var coordinator = indexer.Cluster.Client.GetGrain<IVersionCoordinatorGrain>(collection);
        await coordinator.RegisterModelAsync("v2", indexer.SecondModelDirectory);
        await coordinator.StartRolloutAsync("v2");

        // Kill silo B once the load has committed some pages, well before it ends.
        await WaitForStatusAsync(coordinator, s => s.Rollout is { Step: "loading", Done: >= 500 }, TimeSpan.FromSeconds(120), "500 documents loaded");
        var before = await CheckpointsAsync();

        // The coordinator loses its activation too (wherever it was): it must resume from its stored state.
        await coordinator.Cast<IGrainManagementExtension>().DeactivateOnIdle(ct);
        await indexer.Cluster.KillSiloAsync(indexer.Cluster.Silos[1], ct);

        var ready = await WaitForStatusAsync(coordinator, s => s.Version("v2").State == VersionState.Ready, TimeSpan.FromSeconds(180), "v2 Ready after the kill");
        await stop.CancelAsync();
        await live;

        Assert.True(before.Pages > 0, "no page was checkpointed before the kill");
        Assert.True(before.Done < before.Ranges, "every range had finished before the kill");
        Assert.True(ready.Rollout!.Resumes > 0, $"no shard range resumed from a checkpoint after the kill ({Describe(ready)})");
        await WaitForTableToMatchAsync(indexer.DataSource, collection, "v1", producer.Expected, TimeSpan.FromSeconds(120));
        await WaitForTableToMatchAsync(indexer.DataSource, collection, "v2", producer.Expected, TimeSpan.FromSeconds(120));
    }

    private async Task<(long Pages, long Done, long Ranges)> CheckpointsAsync()
    {
        await using var command = indexer.DataSource.CreateCommand(
            "SELECT coalesce(sum(pages), 0)::bigint, count(*) FILTER (WHERE done), count(*) FROM embeddings_load_checkpoints WHERE collection = 'killload'");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }
}
