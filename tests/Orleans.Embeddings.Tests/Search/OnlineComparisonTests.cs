using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Client.Search;
using Orleans.Embeddings.Collections;
using Orleans.Embeddings.Diagnostics;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Search;
using Orleans.Embeddings.Storage.Search;
using Orleans.Embeddings.Tests.Indexing;
using static Orleans.Embeddings.Tests.Rollouts.RolloutAssertions;

namespace Orleans.Embeddings.Tests.Search;

/// <summary>
/// The online A/B evidence on a two-silo cluster that shadows every unpinned search: per-version searches, latency and
/// click-through from the search log (every silo's), shadow comparisons of the pair, and the OpenTelemetry instruments.
/// </summary>
public sealed class OnlineComparisonTests(OnlineComparisonTests.ShadowingCluster indexer) : IClassFixture<OnlineComparisonTests.ShadowingCluster>
{
    private const string Collection = "ab";
    private const int Documents = 300;

    [Fact]
    public async Task Searches_feedback_and_shadow_comparisons_are_reported_per_version()
    {
        var ct = TestContext.Current.CancellationToken;
        var cluster = indexer.Cluster;
        var requests = new Dictionary<string, long>();
        var dropped = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == EmbeddingsTelemetry.MeterName && instrument.Name is "embeddings.search.requests" or "embeddings.search.dropped")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "embeddings.search.dropped")
            {
                var what = tags.ToArray().Single(t => t.Key == "what").Value as string ?? "";
                lock (dropped)
                {
                    dropped[what] = dropped.GetValueOrDefault(what) + value;
                }

                return;
            }

            var version = tags.ToArray().Single(t => t.Key == "version").Value as string ?? "";
            lock (requests)
            {
                requests[version] = requests.GetValueOrDefault(version) + value;
            }
        });
        listener.Start();

        var silo = cluster.Silos[0].ServiceProvider;
        await silo.GetRequiredService<CollectionSetup>().CreateAsync(Collection, "v1", indexer.ModelDirectory, cancellationToken: ct);
        await using (var publisher = indexer.CreatePublisher())
        {
            await publisher.PublishManyAsync([.. Enumerable.Range(0, Documents).Select(i => new DocumentChange(Collection, $"d{i}", DocumentOperation.Upsert, 1, IndexerCluster.Text(i), "{}"))], ct);
        }

        await indexer.WaitForAsync($"SELECT count(*) FROM {Table(Collection, "v1")} WHERE $1", true, Documents, TimeSpan.FromSeconds(60));
        var coordinator = cluster.Client.GetGrain<IVersionCoordinatorGrain>(Collection);
        await coordinator.RegisterModelAsync("v2", indexer.SecondModelDirectory);
        await coordinator.StartRolloutAsync("v2");
        await WaitForStatusAsync(coordinator, s => s.Version("v2").State == VersionState.Ready, TimeSpan.FromSeconds(120), "v2 Ready");
        var split = await coordinator.SetTrafficAsync("v2", 50);
        await indexer.WaitForAsync($"SELECT count(*) FROM embeddings_routing_acks WHERE collection = '{Collection}' AND epoch >= $1", split.Epoch, 2, TimeSpan.FromSeconds(10));

        var since = DateTimeOffset.UtcNow;
        var client = new EmbeddingSearchClient(cluster.Client, Options.Create(new EmbeddingSearchOptions { DefaultK = 5 }));
        var served = new Dictionary<string, int> { ["v1"] = 0, ["v2"] = 0 };
        for (var i = 0; i < 200; i++)
        {
            var response = await client.SearchAsync(Collection, IndexerCluster.Text(i), routingKey: $"user-{i}", cancellationToken: ct);
            Assert.NotEqual(Guid.Empty, response.QueryId);
            served[response.Version]++;
            if (response.Version == "v2")
            {
                // Users served by v2 click its first hit (twice: the second changes nothing); v1's users click nothing.
                await client.RecordFeedbackAsync(Collection, response.QueryId, response.Hits[0].Id, cancellationToken: ct);
                await client.RecordFeedbackAsync(Collection, response.QueryId, response.Hits[0].Id, cancellationToken: ct);
            }

            await Task.Delay(5, ct); // a client's pace: the shadow loop keeps up
        }

        Assert.True(served["v1"] > 50 && served["v2"] > 50, $"v1 {served["v1"]}, v2 {served["v2"]}");
        var bad = await Assert.ThrowsAsync<SearchException>(() => client.RecordFeedbackAsync(Collection, Guid.NewGuid(), "d1", "Click!", ct));
        Assert.Contains("feedback kind 'Click!'", bad.Message, StringComparison.Ordinal);

        var log = silo.GetRequiredService<SearchLog>();
        IReadOnlyList<VersionSearchStats> stats = [];
        IReadOnlyList<ShadowStats> shadow = [];
        for (var attempt = 0; attempt < 150 && (stats.Sum(s => s.Searches) < 200 || shadow.Sum(s => s.Samples) < 150); attempt++)
        {
            await Task.Delay(200, ct);
            stats = await log.ReadVersionStatsAsync(Collection, since, ct);
            shadow = await log.ReadShadowStatsAsync(Collection, since, ct);
        }

        var v1 = stats.Single(s => s.Version == "v1");
        var v2 = stats.Single(s => s.Version == "v2");
        Assert.Equal(served["v1"], v1.Searches);
        Assert.Equal(served["v2"], v2.Searches);
        Assert.Equal(0, v1.Failed + v2.Failed + v1.Empty + v2.Empty);
        Assert.Equal(0.0, v1.ClickThrough);
        Assert.Equal(1.0, v2.ClickThrough);
        Assert.True(v1.P50Milliseconds > 0 && v2.P99Milliseconds >= v2.P50Milliseconds);

        // Every search was shadowed on the other version (a few may be dropped under load), and exact queries agree at the top.
        var diagnosis = await DescribeLogAsync(since);
        lock (dropped)
        {
            diagnosis += $"; dropped: {string.Join(", ", dropped)}";
        }

        Assert.True(shadow.Select(s => s.Version).Order().SequenceEqual(["v1", "v2"]), diagnosis);
        Assert.All(shadow, s => Assert.Equal(s.Version == "v1" ? "v2" : "v1", s.Candidate));
        Assert.True(shadow.Sum(s => s.Samples) >= 150, $"{shadow.Sum(s => s.Samples)} shadow samples; {diagnosis}");
        Assert.All(shadow, s => Assert.InRange(s.Overlap!.Value, 0.2, 1.0));
        Assert.All(shadow, s => Assert.InRange(s.Rbo!.Value, 0.05, 1.0));

        lock (requests)
        {
            Assert.True(requests.GetValueOrDefault("v1") >= served["v1"] && requests.GetValueOrDefault("v2") >= served["v2"], string.Join(", ", requests));
        }
    }

    // What the log holds since the searches began, per served or shadowed version, for a failure's message.
    private async Task<string> DescribeLogAsync(DateTimeOffset since)
    {
        await using var command = indexer.DataSource.CreateCommand(
            """
            SELECT version || CASE WHEN shadow_of IS NULL THEN ' served' ELSE ' shadow' END || CASE WHEN failed THEN ' failed' ELSE '' END || ': ' || count(*)
              FROM embeddings_search_log WHERE collection = $1 AND at >= $2
             GROUP BY version, shadow_of IS NULL, failed ORDER BY 1
            """);
        command.Parameters.AddWithValue(Collection);
        command.Parameters.AddWithValue(since);
        var lines = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            lines.Add(reader.GetString(0));
        }

        return "log: " + string.Join(", ", lines);
    }

    /// <summary>The indexer's two silos, shadowing every unpinned search on the other version.</summary>
    public sealed class ShadowingCluster(Orleans.Embeddings.Testing.PostgresServer server) : IndexerCluster(server)
    {
        /// <inheritdoc />
        protected override void ConfigureIndexer(Orleans.Embeddings.Hosting.IndexerOptions options) => options.Search.ShadowSampleRate = 1;
    }
}
