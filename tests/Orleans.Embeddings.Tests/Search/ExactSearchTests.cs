using Microsoft.Extensions.Options;
using Orleans.Embeddings.Client.Search;
using Orleans.Embeddings.Search;
using static Orleans.Embeddings.Tests.Rollouts.RolloutAssertions;

namespace Orleans.Embeddings.Tests.Search;

/// <summary>
/// Exact searches (<see cref="SearchRequest.Exact"/>) on the two-silo cluster of <see cref="SearchCollection"/>: the answer
/// is the brute-force cosine ranking of the version's stored vectors, and an exact search must name its version.
/// </summary>
public sealed class ExactSearchTests(SearchCollection fixture) : IClassFixture<SearchCollection>
{
    private const string Collection = SearchCollection.Collection;
    private readonly EmbeddingSearchClient _client = new(fixture.Indexer.Cluster.Client, Options.Create(new EmbeddingSearchOptions()));

    [Fact]
    public async Task An_exact_pinned_search_returns_the_brute_force_cosine_ranking_of_the_stored_vectors()
    {
        var rows = await StoredVectorsAsync();
        Assert.Equal(SearchCollection.Documents - SearchCollection.Deleted, rows.Count);

        // Queries that are not documents' own texts, so that the ranking below the first hit is what is compared.
        foreach (var (text, filter, match) in Enumerable.Range(0, 8).Select(q => ($"note {SearchCollection.Text(q * 31).Split(' ')[1]} streaming", (string?)null, (Func<int, bool>)(_ => true))).Concat(
        [
            (SearchCollection.Text(57) + " and more", null, _ => true),
            (SearchCollection.Text(123), "year>=2012", i => 2000 + (i % 25) >= 2012),
        ]))
        {
            var query = (await _client.EmbedAsync(Collection, [text], version: "v1", kind: TextKind.Query, cancellationToken: Ct)).Vectors[0];
            var expected = rows
                .Where(r => match(int.Parse(r.Id[1..], System.Globalization.CultureInfo.InvariantCulture)))
                .Select(r => (r.Id, Score: Cosine(query, r.Vector)))
                .OrderByDescending(r => r.Score)
                .Take(20)
                .ToList();

            var response = await _client.SearchAsync(
                Collection, text, k: 20, filter: filter is null ? null : [SearchFilter.Parse(filter)], version: "v1", exact: true, cancellationToken: Ct);
            Assert.True(response.Pinned);
            Assert.Equal(expected.Count, response.Hits.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                // Rows whose scores agree to 1e-6 may come in either order (the database and the test round differently).
                Assert.True(
                    response.Hits[i].Id == expected[i].Id || Math.Abs(response.Hits[i].Score - expected[i].Score) < 1e-6,
                    $"'{text}' position {i}: {response.Hits[i].Id} ({response.Hits[i].Score:F7}), brute force {expected[i].Id} ({expected[i].Score:F7})");
                Assert.Equal(expected[i].Score, response.Hits[i].Score, 5);
            }

            Assert.Equal(expected.Select(e => e.Id).Order(StringComparer.Ordinal), response.Hits.Select(h => h.Id).Order(StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task An_exact_search_without_a_pinned_version_is_an_invalid_request()
    {
        var refused = await Assert.ThrowsAsync<SearchException>(() => _client.SearchAsync(Collection, "web server", routingKey: "someone", exact: true, cancellationToken: Ct));
        Assert.Equal(SearchErrorKind.InvalidRequest, refused.Kind);
        Assert.Contains("exact search must pin a version", refused.Message, StringComparison.Ordinal);

        var unknown = await Assert.ThrowsAsync<SearchException>(() => _client.SearchAsync(Collection, "web server", version: "v9", exact: true, cancellationToken: Ct));
        Assert.Equal(SearchErrorKind.UnknownVersion, unknown.Kind);
    }

    private async Task<List<(string Id, float[] Vector)>> StoredVectorsAsync()
    {
        var rows = new List<(string, float[])>();
        await using var command = fixture.Indexer.DataSource.CreateCommand($"SELECT id, embedding FROM {Table(Collection, "v1")} WHERE NOT deleted");
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            rows.Add((reader.GetString(0), reader.GetFieldValue<Pgvector.Vector>(1).ToArray()));
        }

        return rows;
    }

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var d = 0; d < b.Length; d++)
        {
            dot += a[d] * (double)b[d];
            na += a[d] * (double)a[d];
            nb += b[d] * (double)b[d];
        }

        return dot / Math.Sqrt(na * nb);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;
}
