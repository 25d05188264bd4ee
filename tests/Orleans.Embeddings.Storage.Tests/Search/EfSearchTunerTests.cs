using Orleans.Embeddings.Storage.Search;
using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Storage.Tests.Search;

/// <summary>
/// The tuner on real HNSW indexes. Uniform random 64-dimension vectors are the hard case for HNSW (no neighbourhoods),
/// so a few thousand rows already need an ef_search well above 10 for a recall of 0.95.
/// </summary>
public sealed class EfSearchTunerTests(MigratedPostgresDatabase database) : IClassFixture<MigratedPostgresDatabase>
{
    private const int Dimensions = 64;
    private const int Rows = 6000;
    private readonly CollectionCatalog _catalog = new(database.DataSource);
    private readonly VectorSearch _search = new(database.DataSource);

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TuneAsync_RealIndex_RecordsTheSmallestLadderValueThatReachesTheTarget()
    {
        var table = await IndexedTableAsync(new VersionLayout(Dimensions, VectorElementType.Vector, DistanceMetric.Cosine), seed: 1);

        // A target high enough that the ladder's first values miss it on this index.
        var tuning = await new EfSearchTuner(database.DataSource, new EfSearchTunerOptions { TargetRecall = 0.99 }).TuneAsync(table, Cancellation);

        Assert.NotNull(tuning);
        var measured = string.Join(", ", tuning.Measurements.Select(m => $"{m.EfSearch}: {m.Recall:F4}"));
        Assert.True(tuning.TargetReached, measured);
        Assert.Equal(0.99, tuning.TargetRecall);
        Assert.True(tuning.Recall >= tuning.TargetRecall, $"recall {tuning.Recall} at ef_search {tuning.EfSearch}");
        Assert.Equal(EfSearchTunerOptions.DefaultSampleSize, tuning.Queries);
        var ladder = EfSearchTunerOptions.DefaultLadder.ToList();
        var chosen = ladder.IndexOf(tuning.EfSearch);
        Assert.True(chosen > 0, $"ef_search {tuning.EfSearch} is not above the ladder's first value: the data is too easy to show a choice ({measured})");
        Assert.Equal(ladder.Take(chosen + 1), tuning.Measurements.Select(m => m.EfSearch));
        Assert.True(tuning.Measurements[chosen - 1].Recall < tuning.TargetRecall, $"ef_search {ladder[chosen - 1]} already reached {tuning.Measurements[chosen - 1].Recall}");

        var stored = (await _catalog.GetVersionAsync(table.Collection, table.Version, Cancellation))!.EfSearchTuning;
        Assert.NotNull(stored);
        Assert.Equal(tuning.EfSearch, stored.EfSearch);
        Assert.Equal(tuning.Recall, stored.Recall, 9);
        Assert.Equal(tuning.TargetRecall, stored.TargetRecall, 9);
        Assert.True(stored.TargetReached);
        Assert.Equal(tuning.RecallAtDefault, stored.RecallAtDefault, 9);
        Assert.Equal(tuning.Queries, stored.Queries);
        Assert.True(stored.Seconds > 0);
        Assert.True(DateTimeOffset.UtcNow - stored.TunedAt < TimeSpan.FromMinutes(5));
    }

    [Fact]
    public async Task SearchAsync_VersionWithTunedEfSearch_UsesItWhenTheRequestSetsNone()
    {
        var table = await IndexedTableAsync(new VersionLayout(Dimensions, VectorElementType.Vector, DistanceMetric.Cosine), seed: 2);
        var tuning = new EfSearchTuning(10, 0.5, 0.95, false, 0.9, 1, 1, DateTimeOffset.UtcNow);
        await _catalog.RecordEfSearchTuningAsync(table, tuning, Cancellation);
        var tuned = (await _catalog.GetVersionAsync(table.Collection, table.Version, Cancellation))!;
        Assert.Equal(10, VectorSearch.EfSearchOf(tuned, new VectorSearchRequest(new float[Dimensions], 10)));
        Assert.Equal(300, VectorSearch.EfSearchOf(tuned, new VectorSearchRequest(new float[Dimensions], 10) { EfSearch = 300 }));
        Assert.Equal(VectorSearchRequest.DefaultEfSearch, VectorSearch.EfSearchOf(table with { EfSearchTuning = null }, new VectorSearchRequest(new float[Dimensions], 10)));

        var random = new Random(77);
        var differsFromDefault = 0;
        for (var q = 0; q < 40; q++)
        {
            var query = RandomVectors.Unit(random, Dimensions);
            var unset = await IdsAsync(tuned, new VectorSearchRequest(query, 10));
            Assert.Equal(await IdsAsync(tuned, new VectorSearchRequest(query, 10) { EfSearch = 10 }), unset);
            var atDefault = await IdsAsync(tuned, new VectorSearchRequest(query, 10) { EfSearch = VectorSearchRequest.DefaultEfSearch });
            differsFromDefault += unset.AsEnumerable().SequenceEqual(atDefault) ? 0 : 1;
        }

        Assert.True(differsFromDefault > 0, "ef_search 10 and 100 gave the same hits for every query: the test cannot tell which was used");
    }

    [Fact]
    public async Task TuneAsync_TargetOutOfReach_RecordsTheBestRecallAtTheLargestEfSearch()
    {
        var table = await IndexedTableAsync(new VersionLayout(Dimensions, VectorElementType.Vector, DistanceMetric.Cosine), seed: 3);
        await _catalog.SetTargetRecallAsync(table.Collection, 1.0, Cancellation);
        var tuner = new EfSearchTuner(database.DataSource, new EfSearchTunerOptions { Ladder = [10, 20] });

        var tuning = await tuner.TuneAsync(table, Cancellation);

        Assert.NotNull(tuning);
        Assert.False(tuning.TargetReached);
        Assert.Equal(1.0, tuning.TargetRecall);
        Assert.Equal(20, tuning.EfSearch);
        Assert.Equal(tuning.Measurements.Max(m => m.Recall), tuning.Recall);
        Assert.True(tuning.Recall < 1.0);
        var stored = (await _catalog.GetVersionAsync(table.Collection, table.Version, Cancellation))!.EfSearchTuning!;
        Assert.False(stored.TargetReached);
        Assert.Equal(20, stored.EfSearch);
    }

    [Fact]
    public async Task TuneAsync_CollectionTargetRecall_ChangesTheTargetAndTheChoice()
    {
        var table = await IndexedTableAsync(new VersionLayout(Dimensions, VectorElementType.Vector, DistanceMetric.Cosine), seed: 4);
        var tuner = new EfSearchTuner(database.DataSource);

        var settings = await _catalog.SetTargetRecallAsync(table.Collection, 0.5, Cancellation);
        var low = await tuner.TuneAsync(table, Cancellation);
        await _catalog.SetTargetRecallAsync(table.Collection, 0.99, Cancellation);
        var high = await tuner.TuneAsync(table, Cancellation);
        await _catalog.SetTargetRecallAsync(table.Collection, null, Cancellation);

        Assert.Equal(0.5, settings.TargetRecall);
        Assert.Equal(0.5, low!.TargetRecall);
        Assert.Equal(0.99, high!.TargetRecall);
        Assert.True(low.Recall >= 0.5 && high.Recall >= 0.99, $"recalls {low.Recall}, {high.Recall}");
        Assert.True(high.EfSearch > low.EfSearch, $"ef_search {low.EfSearch} for 0.5, {high.EfSearch} for 0.99");
        Assert.Equal(high.EfSearch, (await _catalog.GetVersionAsync(table.Collection, table.Version, Cancellation))!.EfSearchTuning!.EfSearch);
        Assert.Null((await _catalog.GetSettingsAsync(table.Collection, Cancellation)).TargetRecall);
        await Assert.ThrowsAsync<KeyNotFoundException>(() => _catalog.GetSettingsAsync("no-such-collection", Cancellation));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _catalog.SetTargetRecallAsync(table.Collection, 1.5, Cancellation));
        await Assert.ThrowsAsync<KeyNotFoundException>(() => _catalog.SetTargetRecallAsync("no-such-collection", 0.9, Cancellation));
    }

    [Fact]
    public async Task TuneAsync_BinaryVersion_TunesTheRerankedTopTenFromTheCandidatesUp()
    {
        var layout = new VersionLayout(Dimensions, VectorElementType.HalfVec, DistanceMetric.Cosine) { Quantization = VectorQuantization.Binary, RerankOversample = 4 };
        var table = await IndexedTableAsync(layout, seed: 5);

        var tuning = await new EfSearchTuner(database.DataSource).TuneAsync(table, Cancellation);

        // One sign bit of 64 random dimensions, 40 candidates: far from 0.95, whatever the ef_search.
        Assert.NotNull(tuning);
        Assert.All(tuning.Measurements, m => Assert.True(m.EfSearch >= 40));
        Assert.Equal(40, tuning.Measurements[0].EfSearch);
        Assert.False(tuning.TargetReached);
        Assert.True(tuning.Recall >= tuning.Measurements.Max(m => m.Recall) - 0.005);
        Assert.Equal(tuning.Measurements.First(m => m.Recall >= tuning.Measurements.Max(x => x.Recall) - 0.005).EfSearch, tuning.EfSearch);
    }

    [Fact]
    public async Task TuneAsync_NoIndex_RecordsNothing()
    {
        var table = await _catalog.RegisterVersionAsync(NewCollection(), "v1", new VersionLayout(Dimensions, VectorElementType.Vector, DistanceMetric.Cosine), Cancellation);
        await WriteAsync(table, new Random(6), 100);

        Assert.Null(await new EfSearchTuner(database.DataSource).TuneAsync(table, Cancellation));
        Assert.Null((await _catalog.GetVersionAsync(table.Collection, table.Version, Cancellation))!.EfSearchTuning);
    }

    private async Task<string[]> IdsAsync(VersionTable table, VectorSearchRequest request) =>
        [.. (await _search.SearchAsync(table, request, Cancellation)).Select(h => h.Id)];

    private async Task<VersionTable> IndexedTableAsync(VersionLayout layout, int seed)
    {
        var table = await _catalog.RegisterVersionAsync(NewCollection(), "v1", layout, Cancellation);
        await WriteAsync(table, new Random(seed), Rows);
        await new HnswIndexBuilder(database.DataSource).BuildAsync(table, new HnswIndexOptions { MaxParallelMaintenanceWorkers = 0 }, Cancellation);
        return (await _catalog.GetVersionAsync(table.Collection, table.Version, Cancellation))!;
    }

    private static string NewCollection() => $"t{Guid.NewGuid():N}"[..12];

    private async Task WriteAsync(VersionTable table, Random random, int rows)
    {
        var writer = new EmbeddingTableWriter(database.DataSource);
        foreach (var chunk in Enumerable.Range(0, rows).Chunk(2000))
        {
            await writer.WriteAsync(table, [.. chunk.Select(i => EmbeddingRow.Upsert($"d{i}", 1, RandomVectors.Unit(random, Dimensions), "{}"))], Cancellation);
        }
    }
}
