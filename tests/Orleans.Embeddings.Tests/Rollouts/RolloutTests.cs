using System.Diagnostics;
using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Storage.Naming;
using Orleans.Embeddings.Tests.Indexing;
using static Orleans.Embeddings.Tests.Rollouts.RolloutAssertions;

namespace Orleans.Embeddings.Tests.Rollouts;

/// <summary>Rollouts on a two-silo cluster with the whole pipeline, each on a collection of its own (DESIGN invariants 2, 3, 4, 6).</summary>
public sealed class RolloutTests(IndexerCluster indexer) : IClassFixture<IndexerCluster>
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_full_rollout_under_live_upserts_and_deletes_leaves_both_tables_at_the_final_state()
    {
        var ct = TestContext.Current.CancellationToken;
        const string collection = "full";
        await indexer.CreateCollectionAsync(collection);
        await using var publisher = indexer.CreatePublisher();
        var producer = new LiveProducer(publisher, collection, documents: 1500);
        await producer.SeedAsync(ct);
        await indexer.WaitForAsync($"SELECT count(*) FROM {Table(collection, "v1")} WHERE $1::text IS NOT NULL", "x", 1500, Long);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var live = producer.RunAsync(perBatch: 20, TimeSpan.FromMilliseconds(50), stop.Token);
        var coordinator = indexer.Cluster.Client.GetGrain<IVersionCoordinatorGrain>(collection);
        await coordinator.RegisterModelAsync("v2", indexer.SecondModelDirectory);
        var started = await coordinator.StartRolloutAsync("v2");
        Assert.Equal("v2", started.Rollout!.Version);

        var ready = await WaitForStatusAsync(coordinator, s => s.Version("v2").State == VersionState.Ready, Long, "v2 Ready");
        Assert.True(ready.Version("v2").WriteTarget);
        Assert.True(ready.Version("v1").WriteTarget);
        AssertTuned(ready.Version("v2"));
        Assert.Null(ready.Version("v1").EfSearch); // a collection's first version has no index until 'models index'
        var stored = await ScalarAsync($"SELECT ef_search FROM embeddings_model_versions WHERE collection = '{collection}' AND version = 'v2'");
        Assert.Equal(ready.Version("v2").EfSearch!.EfSearch, stored);
        foreach (var percent in new[] { 10, 50 })
        {
            var serving = await coordinator.SetTrafficAsync("v2", percent);
            Assert.Equal(VersionState.Serving, serving.Version("v2").State);
            Assert.Equal(100 - percent, serving.Version("v1").TrafficPercent);
            await Task.Delay(300, ct);
        }

        var promoted = await coordinator.PromoteAsync("v2");
        Assert.Equal(VersionState.Primary, promoted.Version("v2").State);
        Assert.Equal(VersionState.Draining, promoted.Version("v1").State);
        Assert.True(promoted.Version("v1").WriteTarget); // written through the rollback window
        await Task.Delay(500, ct);
        await stop.CancelAsync();
        await live;
        Assert.True(producer.Sent > 2000, $"the producer sent only {producer.Sent} changes");

        await WaitForTableToMatchAsync(indexer.DataSource, collection, "v1", producer.Expected, Long);
        await WaitForTableToMatchAsync(indexer.DataSource, collection, "v2", producer.Expected, Long);
        var hasIndex = await ScalarAsync($"SELECT count(*) FROM pg_indexes WHERE tablename = '{StorageNames.VersionTableName(collection, "v2")}' AND indexdef LIKE '%hnsw%'");
        Assert.Equal(1L, hasIndex);
    }

    [Fact]
    public async Task Rollback_during_serving_at_half_traffic_is_immediate_on_every_silo()
    {
        var ct = TestContext.Current.CancellationToken;
        const string collection = "rollback";
        var coordinator = await ReadyRolloutAsync(collection, documents: 300);
        var serving = await coordinator.SetTrafficAsync("v2", 50);
        Assert.Equal(50, serving.Version("v2").TrafficPercent);

        var clock = Stopwatch.StartNew();
        var rolledBack = await coordinator.RollbackAsync();
        var commandTime = clock.Elapsed;
        Assert.Equal(100, rolledBack.Version("v1").TrafficPercent);
        Assert.Equal(VersionState.Primary, rolledBack.Version("v1").State);
        Assert.Equal(VersionState.RolledBack, rolledBack.Version("v2").State);
        Assert.False(rolledBack.Version("v2").WriteTarget);

        // Every silo routes by the rollback's epoch (pushed, not polled: the poll interval is 1 s).
        await indexer.WaitForAsync("SELECT count(*) FROM embeddings_routing_acks WHERE collection = 'rollback' AND epoch >= $1", rolledBack.Epoch, 2, TimeSpan.FromSeconds(5));
        var acknowledged = clock.Elapsed;
        Assert.True(acknowledged < TimeSpan.FromSeconds(1), $"rollback took {commandTime.TotalMilliseconds:F0} ms, every silo routed by it after {acknowledged.TotalMilliseconds:F0} ms");

        // Repeating it changes nothing.
        var again = await coordinator.RollbackAsync();
        Assert.Equal(rolledBack.Epoch, again.Epoch);
        Assert.Contains("v2 of rollback is RolledBack", (await Assert.ThrowsAsync<RolloutCommandException>(() => coordinator.PromoteAsync("v2"))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_start_commands_produce_exactly_one_rollout()
    {
        const string collection = "concurrent";
        await SeedAsync(collection, 300);
        var coordinator = indexer.Cluster.Client.GetGrain<IVersionCoordinatorGrain>(collection);
        await coordinator.RegisterModelAsync("v2", indexer.SecondModelDirectory);
        await coordinator.RegisterModelAsync("v3", indexer.SecondModelDirectory);

        var starts = Enumerable.Range(0, 8).Select(_ => Attempt(() => coordinator.StartRolloutAsync("v2")))
            .Concat(Enumerable.Range(0, 4).Select(_ => Attempt(() => coordinator.StartRolloutAsync("v3"))))
            .ToList();
        var results = await Task.WhenAll(starts);
        var winners = results.Where(r => r.Status is not null).Select(r => r.Status!.Rollout!.Version).Distinct().ToList();
        Assert.Single(winners);
        var loser = winners[0] == "v2" ? "v3" : "v2";
        var refusals = results.Where(r => r.Error is not null).Select(r => r.Error!).ToList();
        Assert.Equal(loser == "v3" ? 4 : 8, refusals.Count);
        Assert.All(refusals, refusal =>
        {
            Assert.Contains($"rollout of {winners[0]}", refusal, StringComparison.Ordinal);
            Assert.Contains($"before starting {loser}", refusal, StringComparison.Ordinal);
        });

        var ready = await WaitForStatusAsync(coordinator, s => s.Version(winners[0]).State == VersionState.Ready, Long, $"{winners[0]} Ready");
        Assert.Equal(VersionState.Registered, ready.Version(loser).State);
        Assert.False(ready.Version(loser).WriteTarget);
    }

    [Fact]
    public async Task Retire_drops_the_table_only_after_its_traffic_is_zero()
    {
        const string collection = "retire";
        var coordinator = await ReadyRolloutAsync(collection, documents: 300);
        await coordinator.SetTrafficAsync("v2", 50);

        var refused = await Assert.ThrowsAsync<RolloutCommandException>(() => coordinator.RetireAsync("v2"));
        Assert.Contains("receives 50% of search traffic", refused.Message, StringComparison.Ordinal);
        refused = await Assert.ThrowsAsync<RolloutCommandException>(() => coordinator.RetireAsync("v1"));
        Assert.Contains("receives 50% of search traffic", refused.Message, StringComparison.Ordinal);
        Assert.NotNull(await ScalarAsync($"SELECT to_regclass('{Table(collection, "v1")}')::text"));

        await coordinator.PromoteAsync("v2");
        var retiring = await coordinator.RetireAsync("v1");
        Assert.False(retiring.Version("v1").WriteTarget);
        var retired = await WaitForStatusAsync(coordinator, s => s.Version("v1").State == VersionState.Retired, Long, "v1 Retired");
        Assert.Equal(100, retired.Version("v2").TrafficPercent);
        Assert.Null(await ScalarAsync($"SELECT to_regclass('{Table(collection, "v1")}')::text"));

        // Every silo acknowledged the epoch without v1 before the table went.
        await indexer.WaitForAsync("SELECT count(*) FROM embeddings_routing_acks WHERE collection = 'retire' AND epoch >= $1", retiring.Epoch, 2, TimeSpan.FromSeconds(5));
        Assert.Equal(retiring.Epoch, (await coordinator.RetireAsync("v1")).Epoch); // idempotent
    }

    [Fact]
    public async Task Commands_refuse_clearly_and_repeat_safely()
    {
        const string collection = "commands";
        await SeedAsync(collection, 200);
        var coordinator = indexer.Cluster.Client.GetGrain<IVersionCoordinatorGrain>(collection);

        var missing = await Assert.ThrowsAsync<RolloutCommandException>(() => coordinator.RegisterModelAsync("v2", "/nonexistent/model"));
        Assert.Contains("/nonexistent/model", missing.Message, StringComparison.Ordinal);
        Assert.Contains("no version v2", (await Assert.ThrowsAsync<RolloutCommandException>(() => coordinator.StartRolloutAsync("v2"))).Message, StringComparison.Ordinal);

        var first = await coordinator.RegisterModelAsync("v2", indexer.SecondModelDirectory);
        var second = await coordinator.RegisterModelAsync("v2", indexer.SecondModelDirectory);
        Assert.Equal(first, second);
        Assert.Equal(48, first.Dimensions);
        Assert.Equal("bert-hf", first.TokenizerRevision);
        Assert.Contains("already registered", (await Assert.ThrowsAsync<RolloutCommandException>(() => coordinator.RegisterModelAsync("v2", indexer.ModelDirectory))).Message, StringComparison.Ordinal);

        Assert.Contains("Registered", (await Assert.ThrowsAsync<RolloutCommandException>(() => coordinator.SetTrafficAsync("v2", 10))).Message, StringComparison.Ordinal);
        Assert.Contains("no rollout to cancel", (await Assert.ThrowsAsync<RolloutCommandException>(() => coordinator.CancelAsync())).Message, StringComparison.Ordinal);

        await coordinator.StartRolloutAsync("v2");
        await coordinator.StartRolloutAsync("v2");
        var cancelled = await coordinator.CancelAsync();
        Assert.Equal(VersionState.Failed, cancelled.Version("v2").State);
        Assert.False(cancelled.Version("v2").WriteTarget);
        Assert.Equal(cancelled.Epoch, (await coordinator.CancelAsync()).Epoch);

        // A cancelled version can be rolled out again, and a repair of the primary finds nothing to do.
        await coordinator.StartRolloutAsync("v2");
        await WaitForStatusAsync(coordinator, s => s.Version("v2").State == VersionState.Ready, Long, "v2 Ready");
        await coordinator.RepairAsync("v1");
        var repaired = await WaitForStatusAsync(coordinator, s => s.Repair is { Step: "done" or "failed" }, Long, "repair done");
        Assert.Equal("done", repaired.Repair!.Step);
    }

    private async Task<IVersionCoordinatorGrain> ReadyRolloutAsync(string collection, int documents)
    {
        await SeedAsync(collection, documents);
        var coordinator = indexer.Cluster.Client.GetGrain<IVersionCoordinatorGrain>(collection);
        await coordinator.RegisterModelAsync("v2", indexer.SecondModelDirectory);
        await coordinator.StartRolloutAsync("v2");
        var ready = await WaitForStatusAsync(coordinator, s => s.Version("v2").State == VersionState.Ready, Long, "v2 Ready");
        AssertTuned(ready.Version("v2"));
        return coordinator;
    }

    // A version is Ready only with the ef_search measured on its new index, for the default target.
    private static void AssertTuned(ModelVersionStatus version)
    {
        var tuning = version.EfSearch;
        Assert.NotNull(tuning);
        Assert.InRange(tuning.EfSearch, 10, 1000);
        Assert.Equal(0.95, tuning.TargetRecall);
        Assert.InRange(tuning.Recall, 0, 1);
        Assert.True(tuning.TargetReached ? tuning.Recall >= 0.95 : tuning.EfSearch == 1000, $"{tuning}");
        Assert.InRange(tuning.Queries, 1, 250);
        Assert.True(tuning.Seconds > 0);
        Assert.True(tuning.TunedAt >= version.StateChangedAt - TimeSpan.FromMinutes(5));
    }

    private async Task SeedAsync(string collection, int documents)
    {
        await indexer.CreateCollectionAsync(collection);
        await using var publisher = indexer.CreatePublisher();
        await new LiveProducer(publisher, collection, documents).SeedAsync(TestContext.Current.CancellationToken);
        await indexer.WaitForAsync($"SELECT count(*) FROM {Table(collection, "v1")} WHERE $1::text IS NOT NULL", "x", documents, Long);
    }

    private async Task<object?> ScalarAsync(string sql)
    {
        await using var command = indexer.DataSource.CreateCommand(sql);
        var value = await command.ExecuteScalarAsync();
        return value is DBNull ? null : value;
    }

    private static async Task<(RolloutStatus? Status, string? Error)> Attempt(Func<Task<RolloutStatus>> command)
    {
        try
        {
            return (await command(), null);
        }
        catch (RolloutCommandException ex)
        {
            return (null, ex.Message);
        }
    }
}
