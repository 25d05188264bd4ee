using Orleans.Embeddings.Storage.Search;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Storage.Tests.Search;

public sealed class SearchLogTests(MigratedPostgresDatabase database) : IClassFixture<MigratedPostgresDatabase>
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ReadVersionSeriesAsync_BucketsSearchesLatencyAndClicksPerVersion()
    {
        var log = new SearchLog(database.DataSource);
        var collection = $"series-{Guid.NewGuid():N}"[..20];
        var since = new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
        var first = Guid.NewGuid();
        var shadowed = Guid.NewGuid();
        await log.AppendAsync(
        [
            new SearchLogEntry(first, collection, "v1", since.AddSeconds(5), 2, ["a", "b"], Failed: false),
            new SearchLogEntry(shadowed, collection, "v1", since.AddSeconds(50), 4, ["a", "c"], Failed: false),
            new SearchLogEntry(Guid.NewGuid(), collection, "v1", since.AddSeconds(70), 8, [], Failed: false),
            new SearchLogEntry(Guid.NewGuid(), collection, "v2", since.AddSeconds(65), 1, ["b"], Failed: true),
            new SearchLogEntry(Guid.NewGuid(), collection, "v1", since.AddSeconds(-1), 99, ["a"], Failed: false), // before the window
            new SearchLogEntry(Guid.NewGuid(), collection, "v2", since.AddSeconds(51), 6, ["a", "b"], Failed: false, ShadowOf: shadowed, Overlap: 0.5, Rbo: 0.25),
        ],
            Cancellation);
        await log.RecordFeedbackAsync(first, "b", "click", Cancellation);

        var series = await log.ReadVersionSeriesAsync(collection, since, TimeSpan.FromMinutes(1), Cancellation);

        Assert.Equal(
            [(since, "v1", 2L, 0L, 0L, 3.0, 1L), (since.AddMinutes(1), "v1", 1L, 0L, 1L, 8.0, 0L), (since.AddMinutes(1), "v2", 1L, 1L, 0L, double.NaN, 0L)],
            series.Select(p => (p.At, p.Stats.Version, p.Stats.Searches, p.Stats.Failed, p.Stats.Empty, p.Stats.P50Milliseconds ?? double.NaN, p.Stats.Clicked)));
        Assert.Equal(0.5, series[0].Stats.ClickThrough);
        Assert.Null(series[2].Stats.ClickThrough); // every search of that bucket failed

        var shadow = Assert.Single(await log.ReadShadowSeriesAsync(collection, since, TimeSpan.FromMinutes(1), Cancellation));
        Assert.Equal((since, "v1", "v2", 1L, 0.5, 0.25, 2.0), (shadow.At, shadow.Stats.Version, shadow.Stats.Candidate, shadow.Stats.Samples, shadow.Stats.Overlap, shadow.Stats.Rbo, shadow.Stats.LatencyDeltaP50Milliseconds));

        // Without buckets, one point per version over the whole window: the totals.
        var totals = await log.ReadVersionStatsAsync(collection, since, Cancellation);
        Assert.Equal([("v1", 3L, 1L), ("v2", 1L, 0L)], totals.Select(s => (s.Version, s.Searches, s.Clicked)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => log.ReadVersionSeriesAsync(collection, since, TimeSpan.Zero, Cancellation));
    }
}
