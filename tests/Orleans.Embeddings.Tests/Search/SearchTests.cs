using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Client.Search;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Search;
using Orleans.Embeddings.Testing;
using Orleans.Embeddings.Tests.Indexing;
using static Orleans.Embeddings.Tests.Rollouts.RolloutAssertions;

namespace Orleans.Embeddings.Tests.Search;

/// <summary>
/// A two-silo cluster holding collection <see cref="Collection"/>: 300 documents f0…f299 with metadata section (net,
/// db, web by i mod 3), year (2000 + i mod 25) and even (a boolean); f0…f9 are deleted afterwards.
/// </summary>
public sealed class SearchCollection(PostgresServer server) : IAsyncLifetime
{
    public const string Collection = "search-sdk";
    public const int Documents = 300;
    public const int Deleted = 10;
    private static readonly string[] Sections = ["net", "db", "web"];

    public IndexerCluster Indexer { get; } = new(server);

    public static string Text(int i) => IndexerCluster.Text(4000 + i);

    public async ValueTask InitializeAsync()
    {
        await Indexer.InitializeAsync();
        await Indexer.CreateCollectionAsync(Collection);
        await using var publisher = Indexer.CreatePublisher();
        await publisher.PublishManyAsync([.. Enumerable.Range(0, Documents).Select(i =>
            new DocumentChange(Collection, $"f{i}", DocumentOperation.Upsert, 1, Text(i), JsonSerializer.Serialize(new { section = Sections[i % 3], year = 2000 + (i % 25), even = i % 2 == 0 })))]);
        await publisher.PublishManyAsync([.. Enumerable.Range(0, Deleted).Select(i => new DocumentChange(Collection, $"f{i}", DocumentOperation.Delete, 2, null, "{}"))]);
        await Indexer.WaitForAsync($"SELECT count(*) FROM {Table(Collection, "v1")} WHERE deleted = $1", true, Deleted, TimeSpan.FromSeconds(60));
        await Indexer.WaitForAsync($"SELECT count(*) FROM {Table(Collection, "v1")} WHERE NOT deleted AND $1", true, Documents - Deleted, TimeSpan.FromSeconds(60));
    }

    public ValueTask DisposeAsync() => Indexer.DisposeAsync();
}

/// <summary>The search SDK on a two-silo cluster: filters, k, pinned versions, content, refusals, and the embedding generator.</summary>
public sealed class SearchTests(SearchCollection fixture) : IClassFixture<SearchCollection>
{
    private const string Collection = SearchCollection.Collection;
    private const int Documents = SearchCollection.Documents;
    private const int Deleted = SearchCollection.Deleted;
    private readonly IndexerCluster indexer = fixture.Indexer;
    private readonly EmbeddingSearchClient _client = new(fixture.Indexer.Cluster.Client, Options.Create(new EmbeddingSearchOptions()));

    [Fact]
    public async Task An_exact_query_finds_its_document_first_and_every_hit_names_the_version()
    {
        var response = await _client.SearchAsync(Collection, Text(42), k: 5, routingKey: "someone", cancellationToken: Ct);
        Assert.Equal("v1", response.Version);
        Assert.False(response.Pinned);
        Assert.Equal(5, response.Hits.Count);
        Assert.Equal("f42", response.Hits[0].Id);
        Assert.True(response.Hits[0].Score > 0.999, $"score {response.Hits[0].Score}");
        Assert.All(response.Hits, h => Assert.Equal("v1", h.Version));
        Assert.True(response.Hits.Zip(response.Hits.Skip(1)).All(p => p.First.Score >= p.Second.Score), "hits are closest first");
        Assert.True(response.EmbedMilliseconds > 0 && response.SearchMilliseconds > 0);
        Assert.Null(response.Hits[0].Content);
        Assert.Equal("""{"even": true, "year": 2017, "section": "net"}""", response.Hits[0].MetadataJson);
    }

    [Fact]
    public async Task A_pinned_version_is_searched_and_content_is_returned_when_asked()
    {
        var response = await _client.SearchAsync(new SearchRequest(Collection, Text(17)) { Version = "v1", K = 3, IncludeContent = true }, Ct);
        Assert.True(response.Pinned);
        Assert.Equal("v1", response.Version);
        Assert.Equal("f17", response.Hits[0].Id);
        Assert.Equal(Text(17), response.Hits[0].Content);
    }

    [Fact]
    public async Task Filters_return_exactly_the_matching_live_documents()
    {
        var live = Enumerable.Range(Deleted, Documents - Deleted).ToList();
        async Task<string[]> IdsAsync(params string[] filters) =>
            [.. (await _client.SearchAsync(Collection, Text(100), k: 1000, filter: [.. filters.Select(SearchFilter.Parse)], cancellationToken: Ct)).Hits.Select(h => h.Id).Order()];
        string[] Expected(Func<int, bool> match) => [.. live.Where(match).Select(i => $"f{i}").Order()];

        Assert.Equal(Expected(i => i % 3 == 0), await IdsAsync("section=net"));
        Assert.Equal(Expected(i => i % 3 != 2), await IdsAsync("""section:=["net","db"]"""));
        Assert.Equal(Expected(i => 2000 + (i % 25) >= 2020), await IdsAsync("year>=2020"));
        Assert.Equal(Expected(i => 2000 + (i % 25) is >= 2005 and <= 2007), await IdsAsync("year>=2005", "year<=2007"));
        Assert.Equal(Expected(i => i % 3 == 0 && 2000 + (i % 25) == 2003), await IdsAsync("section=net", "year:=2003"));
        Assert.Equal(Expected(i => i % 2 == 0), await IdsAsync("even:=true"));
        Assert.Empty(await IdsAsync("year=2003")); // text, not the number 2003
        Assert.Empty(await IdsAsync("colour=red")); // no document has the field
        Assert.Empty(await IdsAsync("section>=1")); // not a number
    }

    [Fact]
    public async Task K_bounds_the_hits_and_deleted_documents_never_match()
    {
        Assert.Single((await _client.SearchAsync(Collection, Text(3), k: 1, cancellationToken: Ct)).Hits);
        var all = await _client.SearchAsync(Collection, Text(3), k: SearchRequest.MaxK, cancellationToken: Ct);
        Assert.Equal(Documents - Deleted, all.Hits.Count);
        Assert.DoesNotContain(all.Hits, h => int.Parse(h.Id[1..], System.Globalization.CultureInfo.InvariantCulture) < Deleted);

        foreach (var k in new[] { 0, -1, SearchRequest.MaxK + 1 })
        {
            var refused = await Assert.ThrowsAsync<SearchException>(() => _client.SearchAsync(Collection, Text(3), k: k, cancellationToken: Ct));
            Assert.Equal(SearchErrorKind.InvalidRequest, refused.Kind);
            Assert.Contains($"k must be between 1 and {SearchRequest.MaxK} (was {k})", refused.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Unknown_collections_and_versions_and_empty_queries_are_refused_by_name()
    {
        var collection = await Assert.ThrowsAsync<SearchException>(() => _client.SearchAsync("no-such-collection", "web server", cancellationToken: Ct));
        Assert.Equal(SearchErrorKind.UnknownCollection, collection.Kind);
        Assert.Contains("no-such-collection", collection.Message, StringComparison.Ordinal);

        var version = await Assert.ThrowsAsync<SearchException>(() => _client.SearchAsync(Collection, "web server", version: "v9", cancellationToken: Ct));
        Assert.Equal(SearchErrorKind.UnknownVersion, version.Kind);
        Assert.Contains("no version v9", version.Message, StringComparison.Ordinal);

        foreach (var empty in new[] { "", "   " })
        {
            var refused = await Assert.ThrowsAsync<SearchException>(() => _client.SearchAsync(Collection, empty, cancellationToken: Ct));
            Assert.Equal(SearchErrorKind.InvalidRequest, refused.Kind);
            Assert.Contains("query text is empty", refused.Message, StringComparison.Ordinal);
        }

        var ef = await Assert.ThrowsAsync<SearchException>(() => _client.SearchAsync(new SearchRequest(Collection, "web") { EfSearch = 0 }, Ct));
        Assert.Contains("ef_search", ef.Message, StringComparison.Ordinal);
        var badFilter = await Assert.ThrowsAsync<SearchException>(() => _client.SearchAsync(Collection, "web", filter: [new SearchFilter("x", SearchFilterKind.In, "5", null, null)], cancellationToken: Ct));
        Assert.Contains("Filter x in 5", badFilter.Message, StringComparison.Ordinal);

        // The refusals changed nothing: the collection still answers.
        Assert.Equal("f11", (await _client.SearchAsync(Collection, Text(11), k: 1, cancellationToken: Ct)).Hits[0].Id);
    }

    [Fact]
    public async Task The_embedding_generator_embeds_with_the_chosen_version_as_the_table_does()
    {
        using IEmbeddingGenerator<string, Embedding<float>> generator = new ClusterEmbeddingGenerator(_client, Collection, "v1", TextKind.Document);
        Assert.Equal("v1", generator.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelId);
        var embeddings = await generator.GenerateAsync([Text(20), Text(21)], cancellationToken: Ct);
        Assert.Equal(2, embeddings.Count);
        Assert.All(embeddings, e => Assert.Equal("v1", e.ModelId));

        await using var command = indexer.DataSource.CreateCommand($"SELECT embedding FROM {Table(Collection, "v1")} WHERE id = 'f20'");
        var stored = ((Pgvector.Vector)(await command.ExecuteScalarAsync(Ct))!).ToArray();
        Assert.Equal(stored.Length, embeddings[0].Vector.Length);
        for (var d = 0; d < stored.Length; d++)
        {
            Assert.Equal(stored[d], embeddings[0].Vector.Span[d], 5);
        }

        var unknown = await Assert.ThrowsAsync<SearchException>(() => generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { ModelId = "v9" }, cancellationToken: Ct));
        Assert.Equal(SearchErrorKind.UnknownVersion, unknown.Kind);
        var dimensions = await Assert.ThrowsAsync<InvalidOperationException>(() => generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 3 }, cancellationToken: Ct));
        Assert.Contains("64-dimensional", dimensions.Message, StringComparison.Ordinal);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Text(int i) => SearchCollection.Text(i);
}
