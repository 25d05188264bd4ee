using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Silo.Tests;

/// <summary>HTTP search (<c>/collections/{c}/search</c>) and <c>embeddings search</c> against a real silo.</summary>
public sealed class SearchApiTests(PostgresServer server) : IAsyncLifetime
{
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private ApiSilo _silo = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Search_needs_a_search_or_operator_token()
    {
        using var anonymous = await s_http.GetAsync(new Uri(_silo.Address, "/collections/docs/search?q=topic"), Cancellation);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync("/collections/docs/search?q=topic", "not-the-token-at-all-0000")).Status);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/collections/docs/search?q=topic", ApiSilo.SearchToken)).Status);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/collections/docs/search?q=topic", ApiSilo.OperatorToken)).Status);
    }

    [Fact]
    public async Task Get_and_post_return_the_hits_of_one_version_as_json()
    {
        var (status, body) = await GetAsync($"/collections/docs/search?q={Uri.EscapeDataString(ApiSilo.Text(5))}&k=3&content=true", ApiSilo.SearchToken);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("v1", body.GetProperty("version").GetString());
        Assert.False(body.GetProperty("pinned").GetBoolean());
        var hits = body.GetProperty("hits").EnumerateArray().ToList();
        Assert.Equal(3, hits.Count);
        Assert.Equal("d5", hits[0].GetProperty("id").GetString());
        Assert.Equal(5, hits[0].GetProperty("metadata").GetProperty("topic").GetInt32()); // an object, not a string
        Assert.Equal(ApiSilo.Text(5), hits[0].GetProperty("content").GetString());
        Assert.All(hits, h => Assert.Equal("v1", h.GetProperty("version").GetString()));

        // Feedback names the search by its queryId.
        var queryId = body.GetProperty("queryId").GetString();
        Assert.Equal(HttpStatusCode.OK, (await PostAsync("/collections/docs/feedback", new { queryId, documentId = "d5", kind = "click" })).Status);
        var badFeedback = await PostAsync("/collections/docs/feedback", new { queryId = "not-an-id", documentId = "d5" });
        Assert.Equal(HttpStatusCode.BadRequest, badFeedback.Status);
        Assert.Contains("queryId 'not-an-id'", badFeedback.Body.GetProperty("error").GetString(), StringComparison.Ordinal);

        // GET filters repeat; POST takes the same fields as JSON; /api/collections/… is the same endpoint.
        (status, body) = await GetAsync("/collections/docs/search?q=topic&k=100&filter=topic:=5", ApiSilo.SearchToken);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(12, body.GetProperty("hits").GetArrayLength()); // d5, d22, … d192
        (status, body) = await PostAsync("/api/collections/docs/search", new { q = "topic", k = 100, filter = new[] { "topic>=3", "topic<=4" }, version = "v1" });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("pinned").GetBoolean());
        Assert.All(body.GetProperty("hits").EnumerateArray(), h => Assert.InRange(h.GetProperty("metadata").GetProperty("topic").GetInt32(), 3, 4));
        Assert.Equal(24, body.GetProperty("hits").GetArrayLength());
    }

    [Fact]
    public async Task Bad_requests_are_400_and_unknown_names_404_with_the_reason()
    {
        async Task ExpectAsync(string path, HttpStatusCode expected, string reason)
        {
            var (status, body) = await GetAsync(path, ApiSilo.SearchToken);
            Assert.Equal(expected, status);
            Assert.Contains(reason, body.GetProperty("error").GetString(), StringComparison.Ordinal);
        }

        await ExpectAsync("/collections/docs/search?q=topic&k=0", HttpStatusCode.BadRequest, "k must be between 1 and 1000 (was 0)");
        await ExpectAsync("/collections/docs/search?q=", HttpStatusCode.BadRequest, "query text is empty");
        await ExpectAsync("/collections/docs/search", HttpStatusCode.BadRequest, "query text is empty");
        await ExpectAsync("/collections/docs/search?q=topic&filter=topic>3", HttpStatusCode.BadRequest, "Filter 'topic>3'");
        await ExpectAsync("/collections/nosuch/search?q=topic", HttpStatusCode.NotFound, "Collection nosuch does not exist");
        await ExpectAsync("/collections/docs/search?q=topic&version=v9", HttpStatusCode.NotFound, "no version v9");
    }

    [Fact]
    public async Task Exact_searches_of_a_pinned_version_answer_over_get_and_post_and_bad_combinations_are_400()
    {
        var (status, body) = await GetAsync($"/collections/docs/search?q={Uri.EscapeDataString(ApiSilo.Text(9))}&k=5&version=v1&exact=true", ApiSilo.SearchToken);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("pinned").GetBoolean());
        var exact = body.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("id").GetString()).ToList();
        Assert.Equal(5, exact.Count);
        Assert.Equal("d9", exact[0]);

        // v1 has no ANN index, so its plain search is an exact scan too: the same answer.
        (status, body) = await PostAsync("/api/collections/docs/search", new { q = ApiSilo.Text(9), k = 5, version = "v1", exact = true });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(exact, body.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("id").GetString()));
        (status, body) = await GetAsync($"/collections/docs/search?q={Uri.EscapeDataString(ApiSilo.Text(9))}&k=5&version=v1&exact=false", ApiSilo.SearchToken);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(exact, body.GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("id").GetString()));

        var unpinned = await GetAsync("/collections/docs/search?q=topic&exact=true", ApiSilo.SearchToken);
        Assert.Equal(HttpStatusCode.BadRequest, unpinned.Status);
        Assert.Contains("exact search must pin a version", unpinned.Body.GetProperty("error").GetString(), StringComparison.Ordinal);
        unpinned = await PostAsync("/collections/docs/search", new { q = "topic", exact = true });
        Assert.Equal(HttpStatusCode.BadRequest, unpinned.Status);
        Assert.Contains("exact search must pin a version", unpinned.Body.GetProperty("error").GetString(), StringComparison.Ordinal);
        var bad = await GetAsync("/collections/docs/search?q=topic&version=v1&exact=maybe", ApiSilo.SearchToken);
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Contains("exact 'maybe' is not true or false", bad.Body.GetProperty("error").GetString(), StringComparison.Ordinal);
        var badPost = await PostAsync("/collections/docs/search", new { q = "topic", version = "v1", exact = "maybe" });
        Assert.Equal(HttpStatusCode.BadRequest, badPost.Status); // the framework refuses a body that is not the request's JSON
    }

    [Fact]
    public async Task The_cli_evaluates_against_the_exact_top_k_of_the_first_version()
    {
        var queries = Path.Combine(_silo.Models, "exact-queries.tsv");
        var qrels = Path.Combine(_silo.Models, "exact-qrels.tsv");
        await File.WriteAllLinesAsync(queries, Enumerable.Range(0, 10).Select(i => $"q{i}\ttopic {i} word"), Cancellation);
        await File.WriteAllLinesAsync(qrels, Enumerable.Range(0, 10).Select(i => $"q{i}\td{i}\t1"), Cancellation);
        string[] connection = ["-c", "docs", "--api", _silo.Address.ToString(), "--token", ApiSilo.SearchToken];

        var eval = await EmbeddingsCli.RunAsync(["eval", "--queries", queries, "--qrels", qrels, "--versions", "v1", "--exact-reference", .. connection], Cancellation);
        Assert.True(eval.ExitCode == 0, eval.Output);
        var header = eval.Output.Split('\n').Single(l => l.StartsWith("version", StringComparison.Ordinal));
        Assert.EndsWith("recall of v1 exact top-10 [95% CI]", header.TrimEnd(), StringComparison.Ordinal);
        var row = eval.Output.Split('\n').Single(l => l.StartsWith("v1 ", StringComparison.Ordinal));
        Assert.EndsWith("1.0000 [1.0000, 1.0000]", row.TrimEnd(), StringComparison.Ordinal); // v1's search is an exact scan (no index yet)

        var plain = await EmbeddingsCli.RunAsync(["eval", "--queries", queries, "--qrels", qrels, "--versions", "v1", .. connection], Cancellation);
        Assert.True(plain.ExitCode == 0, plain.Output);
        Assert.DoesNotContain("exact top-10", plain.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_cli_searches_with_the_search_token()
    {
        string[] connection = ["-c", "docs", "--api", _silo.Address.ToString(), "--token", ApiSilo.SearchToken];
        var search = await EmbeddingsCli.RunAsync(["search", ApiSilo.Text(7), "-k", "2", .. connection], Cancellation);
        Assert.True(search.ExitCode == 0, search.Output);
        Assert.Contains("version v1", search.Output, StringComparison.Ordinal);
        Assert.Contains("d7", search.Output, StringComparison.Ordinal);

        var json = await EmbeddingsCli.RunAsync(["search", "topic", "-k", "50", "--filter", "topic:=7", "--json", .. connection], Cancellation);
        Assert.True(json.ExitCode == 0, json.Output);
        using (var document = JsonDocument.Parse(json.Output))
        {
            var hits = document.RootElement.GetProperty("hits").EnumerateArray().ToList();
            Assert.Equal(12, hits.Count);
            Assert.All(hits, h => Assert.Equal(7, h.GetProperty("metadata").GetProperty("topic").GetInt32()));
        }

        var badFilter = await EmbeddingsCli.RunAsync(["search", "topic", "--filter", "topic", .. connection], Cancellation);
        Assert.Equal(1, badFilter.ExitCode);
        Assert.Contains("error: Filter 'topic' is not field=text", badFilter.Output, StringComparison.Ordinal);
        var unknown = await EmbeddingsCli.RunAsync(["search", "topic", "--version", "v9", .. connection], Cancellation);
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("no version v9", unknown.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_cli_evaluates_a_version_on_labelled_queries()
    {
        var queries = Path.Combine(_silo.Models, "queries.tsv");
        var qrels = Path.Combine(_silo.Models, "qrels.tsv");
        await File.WriteAllLinesAsync(queries, Enumerable.Range(0, 20).Select(i => $"q{i}\t{ApiSilo.Text(i * 7)}"), Cancellation);
        await File.WriteAllLinesAsync(qrels, Enumerable.Range(0, 20).Select(i => $"q{i}\td{i * 7}\t1"), Cancellation);
        string[] connection = ["-c", "docs", "--api", _silo.Address.ToString(), "--token", ApiSilo.SearchToken];

        var eval = await EmbeddingsCli.RunAsync(["eval", "--queries", queries, "--qrels", qrels, "--versions", "v1", .. connection], Cancellation);
        Assert.True(eval.ExitCode == 0, eval.Output);
        Assert.Contains("20 queries", eval.Output, StringComparison.Ordinal);
        Assert.Contains("nDCG@10", eval.Output, StringComparison.Ordinal);
        Assert.Contains("1.0000 [1.0000, 1.0000]", eval.Output, StringComparison.Ordinal); // exact texts find their documents first

        await File.WriteAllLinesAsync(qrels, ["q0\td0\tmaybe"], Cancellation);
        var bad = await EmbeddingsCli.RunAsync(["eval", "--queries", queries, "--qrels", qrels, "--versions", "v1", .. connection], Cancellation);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("qrels.tsv:1: relevance 'maybe'", bad.Output, StringComparison.Ordinal);
        var unknown = await EmbeddingsCli.RunAsync(["eval", "--queries", queries, "--qrels", Path.Combine(_silo.Models, "none.tsv"), "--versions", "v1", .. connection], Cancellation);
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("none.tsv does not exist", unknown.Output, StringComparison.Ordinal);
    }

    public async ValueTask InitializeAsync() => _silo = await ApiSilo.StartAsync(server, "search-api", Cancellation);

    public ValueTask DisposeAsync() => _silo.DisposeAsync();

    private async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_silo.Address, path));
        return await SendAsync(request, token);
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_silo.Address, path)) { Content = JsonContent.Create(body) };
        return await SendAsync(request, ApiSilo.SearchToken);
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpRequestMessage request, string token)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await s_http.SendAsync(request, Cancellation);
        var text = await response.Content.ReadAsStringAsync(Cancellation);
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }
}
