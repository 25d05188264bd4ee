using System.Text.Json;
using Orleans.Embeddings.Storage.Documents;
using Orleans.Embeddings.Storage.Search;
using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Storage.Tests.Search;

public sealed class VectorSearchTests(MigratedPostgresDatabase database) : IClassFixture<MigratedPostgresDatabase>
{
    private const int Dimensions = 16;
    private readonly VectorSearch _search = new(database.DataSource);
    private readonly EmbeddingTableWriter _writer = new(database.DataSource);

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SearchAsync_NoIndexYet_ReturnsTheExactNearestTaggedWithTheVersionAndWithoutTombstones()
    {
        var (table, vectors) = await LoadAsync(rows: 300, seed: 1);
        await _writer.WriteAsync(table, [EmbeddingRow.Tombstone("doc-0005", 9)], Cancellation);
        var query = RandomVectors.Unit(new Random(99), Dimensions);

        var hits = await _search.SearchAsync(table, new VectorSearchRequest(query, 10) { IncludeContent = true }, Cancellation);

        var expected = vectors.Where(v => v.Key != "doc-0005")
            .OrderByDescending(v => RandomVectors.Dot(query, v.Value)).Take(10).Select(v => v.Key);
        Assert.Equal(expected, hits.Select(h => h.Id));
        Assert.All(hits, h => Assert.Equal(table.Version, h.Version));
        Assert.All(hits, h => Assert.Equal(RandomVectors.Dot(query, vectors[h.Id]), h.Score, 4));
        Assert.All(hits, h => Assert.Equal($"content of {h.Id}", h.Content));
        Assert.Equal(hits.Select(h => h.Score).OrderDescending(), hits.Select(h => h.Score));
    }

    [Fact]
    public async Task SearchAsync_SelectiveFilterOnHnswIndex_ReturnsKHitsWheneverKRowsMatch()
    {
        // 4000 rows, of which 40 are "rare". The planner cannot estimate a range on a jsonb field, takes
        // the HNSW index for ORDER BY … LIMIT, and a plain HNSW scan would keep ef_search (40) candidates
        // and filter them down to a handful; the iterative scan must keep going until it has k.
        var (table, _) = await LoadAsync(rows: 4000, seed: 2, metadata: i => i % 100 == 0 ? """{"kind":"rare","rank":1}""" : """{"kind":"common","rank":0}""");
        await new HnswIndexBuilder(database.DataSource).BuildAsync(table, cancellationToken: Cancellation);
        Assert.True(await new HnswIndexBuilder(database.DataSource).HasIndexAsync(table, Cancellation));

        var random = new Random(5);
        for (var q = 0; q < 5; q++)
        {
            var request = new VectorSearchRequest(RandomVectors.Unit(random, Dimensions), 25) { Filters = [MetadataFilter.Range("rank", 1, null)] };

            var hits = await _search.SearchAsync(table, request, Cancellation);

            Assert.Equal(25, hits.Count);
            Assert.All(hits, h => Assert.Contains("rare", h.MetadataJson, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task SearchAsync_FilterValuesHoldingQuotesAndSql_AreTreatedAsData()
    {
        const string hostile = "x'); DROP TABLE embeddings_documents; --\"";
        var (table, _) = await LoadAsync(rows: 50, seed: 3, metadata: i => i == 7
            ? JsonSerializer.Serialize(new Dictionary<string, string> { ["title"] = hostile, ["it's"] = "quoted" })
            : """{"title":"plain"}""");

        var byValue = await _search.SearchAsync(table, Request(MetadataFilter.Equal("title", hostile)), Cancellation);
        var byField = await _search.SearchAsync(table, Request(MetadataFilter.Equal("it's", "quoted")), Cancellation);
        var byIn = await _search.SearchAsync(table, Request(MetadataFilter.In("title", [hostile, "' OR 1=1 --"])), Cancellation);

        Assert.Equal(["doc-0007"], byValue.Select(h => h.Id));
        Assert.Equal(["doc-0007"], byField.Select(h => h.Id));
        Assert.Equal(["doc-0007"], byIn.Select(h => h.Id));
        await using var command = database.DataSource.CreateCommand("SELECT to_regclass('embeddings_documents') IS NOT NULL");
        Assert.Equal(true, await command.ExecuteScalarAsync(Cancellation));
    }

    [Fact]
    public async Task SearchAsync_InAndRangeFilters_CombineWithAnd()
    {
        var (table, _) = await LoadAsync(rows: 200, seed: 4, metadata: i =>
            i % 10 == 0 ? $$"""{"year":"not a number","section":"web"}""" : $$"""{"year":{{2000 + (i % 20)}},"section":"{{(i % 2 == 0 ? "web" : "libs")}}"}""");

        var hits = await _search.SearchAsync(
            table,
            Request(MetadataFilter.Range("year", 2010, 2013), MetadataFilter.In("section", ["web", "admin"])) with { },
            Cancellation);

        var expected = Enumerable.Range(0, 200).Where(i => i % 10 != 0 && i % 2 == 0 && 2000 + (i % 20) is >= 2010 and <= 2013).Select(i => $"doc-{i:D4}");
        Assert.Equal(expected.Order(StringComparer.Ordinal), hits.Select(h => h.Id).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task SearchAsync_QueryOfTheWrongLengthOrKOutOfRange_ThrowsClearly()
    {
        var (table, _) = await LoadAsync(rows: 5, seed: 6);

        var wrongLength = await Assert.ThrowsAsync<ArgumentException>(() => _search.SearchAsync(table, new VectorSearchRequest(new float[3], 5), Cancellation));
        var badK = await Assert.ThrowsAsync<ArgumentException>(() => _search.SearchAsync(table, new VectorSearchRequest(new float[Dimensions], 0), Cancellation));

        Assert.Contains("3 dimensions", wrongLength.Message, StringComparison.Ordinal);
        Assert.Contains("k must be between 1 and 1000", badK.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BuildAsync_TooManyDimensionsForTheElementType_FailsNamingTheLimit()
    {
        var table = await new CollectionCatalog(database.DataSource).RegisterVersionAsync(
            $"s{Guid.NewGuid():N}"[..12], "wide", 2001, VectorElementType.Vector, DistanceMetric.Cosine, Cancellation);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => new HnswIndexBuilder(database.DataSource).BuildAsync(table, cancellationToken: Cancellation));

        Assert.Contains("up to 2000", error.Message, StringComparison.Ordinal);
    }

    private static VectorSearchRequest Request(params MetadataFilter[] filters) =>
        new(RandomVectors.Unit(new Random(11), Dimensions), 100) { Filters = filters };

    private async Task<(VersionTable Table, Dictionary<string, float[]> Vectors)> LoadAsync(int rows, int seed, Func<int, string>? metadata = null)
    {
        var collection = $"s{Guid.NewGuid():N}"[..12];
        var table = await new CollectionCatalog(database.DataSource).RegisterVersionAsync(collection, "v1", Dimensions, VectorElementType.Vector, DistanceMetric.Cosine, Cancellation);
        var random = new Random(seed);
        var vectors = Enumerable.Range(0, rows).ToDictionary(i => $"doc-{i:D4}", _ => RandomVectors.Unit(random, Dimensions));
        await new DocumentStore(database.DataSource).UpsertManyAsync(collection, [.. vectors.Keys.Select(id => new DocumentUpsert(id, 1, $"content of {id}"))], Cancellation);
        await _writer.WriteAsync(table, [.. vectors.Select((v, i) => EmbeddingRow.Upsert(v.Key, 1, v.Value, metadata?.Invoke(i) ?? "{}"))], Cancellation);
        return (table, vectors);
    }
}
