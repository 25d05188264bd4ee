using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Client.Search;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Indexing;
using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Search;
using Orleans.Embeddings.Tests.Indexing;
using Orleans.Embeddings.Tests.Rollouts;
using static Orleans.Embeddings.Tests.Rollouts.RolloutAssertions;

namespace Orleans.Embeddings.Tests.Search;

/// <summary>
/// DESIGN invariant 4 under every traffic change: searches through the SDK while a rollout loads, serves 10 %, 50 %,
/// is promoted and rolled back. v1 (64 dimensions) and v2 (48) are different models, so a query embedded by one
/// version and searched in the other's table would fail, or miss its exact match.
/// </summary>
public sealed class SearchDuringRolloutTests(IndexerCluster indexer) : IClassFixture<IndexerCluster>
{
    private const string Collection = "search-rollout";
    private const int StableDocuments = 200;
    private const int RoutingKeys = 1000;
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task Twenty_thousand_searches_through_a_rollout_and_a_rollback_each_use_one_version_for_query_and_table()
    {
        var ct = TestContext.Current.CancellationToken;
        await indexer.CreateCollectionAsync(Collection);
        await using var publisher = indexer.CreatePublisher();

        // Documents no one changes are the queries: each must find itself (score 1) in whichever version serves it.
        await publisher.PublishManyAsync(
            [.. Enumerable.Range(0, StableDocuments).Select(j => new DocumentChange(Collection, $"s{j}", DocumentOperation.Upsert, 1, StableText(j), "{}"))], ct);
        var producer = new LiveProducer(publisher, Collection, documents: 1500);
        await producer.SeedAsync(ct);
        await indexer.WaitForAsync($"SELECT count(*) FROM {Table(Collection, "v1")} WHERE $1::text IS NOT NULL", "x", 1500 + StableDocuments, Long);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var live = producer.RunAsync(perBatch: 10, TimeSpan.FromMilliseconds(50), stop.Token);
        var searches = new Searches(new EmbeddingSearchClient(indexer.Cluster.Client, Options.Create(new EmbeddingSearchOptions { DefaultK = 5 })));
        var running = Task.WhenAll(Enumerable.Range(0, 8).Select(seed => searches.RunAsync(seed, stop.Token)));
        var coordinator = indexer.Cluster.Client.GetGrain<IVersionCoordinatorGrain>(Collection);

        // Phase "load": v2 is loading (then indexing, then Ready without traffic); every search stays on v1.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        searches.Enter(Phase.Only("v1"));
        await coordinator.RegisterModelAsync("v2", indexer.SecondModelDirectory);
        await coordinator.StartRolloutAsync("v2");
        await WaitForStatusAsync(coordinator, s => s.Version("v2").State == VersionState.Ready, Long, "v2 Ready");
        await searches.WaitForAsync(2000, Long);
        TestContext.Current.SendDiagnosticMessage($"load phase done at {clock.Elapsed.TotalSeconds:F1} s, {searches.Total} searches");

        foreach (var (command, weights) in new (Func<Task<RolloutStatus>>, Dictionary<string, int>)[]
        {
            (() => coordinator.SetTrafficAsync("v2", 10), new() { ["v1"] = 90, ["v2"] = 10 }),
            (() => coordinator.SetTrafficAsync("v2", 50), new() { ["v1"] = 50, ["v2"] = 50 }),
            (() => coordinator.PromoteAsync("v2"), new() { ["v2"] = 100 }),
            (() => coordinator.RollbackAsync(), new() { ["v1"] = 100 }),
        })
        {
            searches.Enter(Phase.Changing);
            var status = await command();
            await indexer.WaitForAsync($"SELECT count(*) FROM embeddings_routing_acks WHERE collection = '{Collection}' AND epoch >= $1", status.Epoch, 2, TimeSpan.FromSeconds(10));
            searches.Enter(Phase.Split(weights));
            await searches.WaitForAsync(4000, Long);
            TestContext.Current.SendDiagnosticMessage($"phase done at {clock.Elapsed.TotalSeconds:F1} s, {searches.Total} searches");
        }

        await searches.WaitForTotalAsync(20_000, Long);
        await stop.CancelAsync();
        await running;
        await live;

        Assert.Empty(searches.Errors.Take(5));
        Assert.True(searches.Total >= 20_000, $"only {searches.Total} searches ran");
        Assert.Empty(searches.Mismatches.Take(5));
        foreach (var (phase, versions) in searches.VersionsPerPhase())
        {
            TestContext.Current.SendDiagnosticMessage($"{phase}: {string.Join(", ", versions.Select(v => $"{v.Key} {v.Value}"))}");
        }

        // Both versions served searches, and v2 only after it was Ready.
        var perPhase = searches.VersionsPerPhase();
        Assert.Equal(["v1"], perPhase["v1 only"].Keys);
        Assert.True(perPhase["v1 90, v2 10"].GetValueOrDefault("v2") > 0);
        Assert.True(perPhase["v1 50, v2 50"].GetValueOrDefault("v2") > perPhase["v1 90, v2 10"].GetValueOrDefault("v2"));
        Assert.Equal(["v2"], perPhase["v2 100"].Keys);
        Assert.Equal(["v1"], perPhase["v1 100"].Keys);
    }

    private static string StableText(int j) => IndexerCluster.Text(3000 + j);

    private sealed record Phase(string Name, IReadOnlyDictionary<string, int>? Weights)
    {
        public static readonly Phase Changing = new("changing", null);

        public static Phase Only(string version) => new($"{version} only", new Dictionary<string, int> { [version] = 100 });

        public static Phase Split(Dictionary<string, int> weights) =>
            new(string.Join(", ", weights.OrderBy(w => w.Key, StringComparer.Ordinal).Select(w => $"{w.Key} {w.Value}")), weights);

        // While the coordinator changes the split, a call may see the old or the new routing; in a phase it must get
        // exactly the version the split assigns its routing key (sticky).
        public string? Expected(string routingKey) => Weights is null ? null : TrafficSplit.Choose(Weights, routingKey);
    }

    private sealed class Searches(EmbeddingSearchClient client)
    {
        private readonly ConcurrentDictionary<(string Phase, string Version), int> _counts = new();
        private Phase _phase = Phase.Changing;
        private int _inPhase;
        private int _total;

        public ConcurrentQueue<string> Errors { get; } = new();

        public ConcurrentQueue<string> Mismatches { get; } = new();

        public int Total => Volatile.Read(ref _total);

        public void Enter(Phase phase)
        {
            Volatile.Write(ref _phase, phase);
            Interlocked.Exchange(ref _inPhase, 0);
        }

        public async Task WaitForAsync(int searches, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (Volatile.Read(ref _inPhase) < searches)
            {
                Assert.True(DateTime.UtcNow < deadline, $"only {_inPhase} searches in phase {_phase.Name} within {timeout}");
                await Task.Delay(50);
            }
        }

        public async Task WaitForTotalAsync(int searches, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (Total < searches)
            {
                Assert.True(DateTime.UtcNow < deadline, $"only {Total} searches within {timeout}");
                await Task.Delay(50);
            }
        }

        public Dictionary<string, Dictionary<string, int>> VersionsPerPhase() =>
            _counts.GroupBy(c => c.Key.Phase).ToDictionary(g => g.Key, g => g.ToDictionary(c => c.Key.Version, c => c.Value));

        public async Task RunAsync(int seed, CancellationToken stop)
        {
            var random = new Random(seed);
            while (!stop.IsCancellationRequested)
            {
                var j = random.Next(StableDocuments);
                var key = $"user-{random.Next(RoutingKeys)}";
                var phase = Volatile.Read(ref _phase);
                try
                {
                    var response = await client.SearchAsync(Collection, StableText(j), routingKey: key, cancellationToken: CancellationToken.None);
                    Check(response, j, key, phase);
                }
                catch (Exception ex)
                {
                    Errors.Enqueue($"{phase.Name}, {key}: {ex.GetType().Name}: {ex.Message}");
                }

                Interlocked.Increment(ref _total);
            }
        }

        private void Check(SearchResponse response, int j, string key, Phase phase)
        {
            if (response.Hits.Any(h => h.Version != response.Version))
            {
                Mismatches.Enqueue($"{key}: hits from {string.Join(",", response.Hits.Select(h => h.Version).Distinct())} in a response from {response.Version}");
            }

            if (response.Hits.Count == 0 || response.Hits[0].Id != $"s{j}" || response.Hits[0].Score < 0.999)
            {
                Mismatches.Enqueue($"{key} on {response.Version}: the exact query of s{j} found {(response.Hits.Count == 0 ? "nothing" : $"{response.Hits[0].Id} at {response.Hits[0].Score:F4}")}");
            }

            if (Volatile.Read(ref _phase) != phase || phase.Expected(key) is not { } expected)
            {
                return; // the phase changed during the call
            }

            if (response.Version != expected || response.Pinned)
            {
                Mismatches.Enqueue($"{key} in phase {phase.Name} went to {response.Version}, not {expected}");
            }

            _counts.AddOrUpdate((phase.Name, response.Version), 1, (_, n) => n + 1);
            Interlocked.Increment(ref _inPhase);
        }
    }
}
