using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Orleans.Embeddings.Storage.Naming;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Silo.Tests;

/// <summary>
/// Malformed, oversized and hostile requests to the search, feedback and operator APIs of a real silo: every one is a
/// 4xx whose JSON body names the problem, none is a 5xx, nothing in the database changes, and good requests around them
/// still answer.
/// </summary>
public sealed class HostileRequestTests(PostgresServer server) : IAsyncLifetime
{
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private static readonly string[] s_injections =
    [
        "'; DROP TABLE embeddings_documents; --",
        "\" OR 1=1 --",
        "docs/../../etc/passwd",
        "v1); DELETE FROM embeddings_model_versions; --",
        "%00",
        "\u0000\u0001\u001f",
        "日本語",
        "🙂🙂🙂",
        new string('x', 5000),
        "{{{{[[[[",
        "$(rm -rf /)",
    ];

    private ApiSilo _silo = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Hostile_requests_get_a_4xx_naming_the_problem_and_change_nothing()
    {
        var before = await CountsAsync();
        var outcomes = new List<(string Request, HttpStatusCode Status, string Body)>();
        foreach (var (method, path, body, token) in HostileRequests())
        {
            using var request = new HttpRequestMessage(method, new Uri(_silo.Address, path));
            if (body is not null)
            {
                request.Content = new ByteArrayContent(body);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            }

            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await s_http.SendAsync(request, Cancellation);
            outcomes.Add(($"{method} {Shorten(path)} {(body is null ? "" : Shorten(Encoding.UTF8.GetString(body)))}", response.StatusCode, await response.Content.ReadAsStringAsync(Cancellation)));

            // A good search between the bad ones still answers.
            if (outcomes.Count % 25 == 0)
            {
                await AssertGoodSearchAsync();
            }
        }

        var serverErrors = outcomes.Where(o => (int)o.Status >= 500).ToList();
        Assert.True(serverErrors.Count == 0, "5xx: " + string.Join("\n", serverErrors.Take(60).Select(o => $"{o.Status} {o.Request}: {Shorten(o.Body)}")));
        var accepted = outcomes.Where(o => (int)o.Status < 400).ToList();
        Assert.True(accepted.Count == 0, "accepted: " + string.Join("\n", accepted.Take(60).Select(o => $"{o.Status} {o.Request}")));
        // Hostile strings as filter data are harmless: the search answers, and nothing matches them.
        foreach (var injection in s_injections.Where(i => !i.Contains('\0', StringComparison.Ordinal) && i.Length < 1000))
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_silo.Address, $"/collections/docs/search?q=topic&filter={Uri.EscapeDataString(injection + "=" + injection)}"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiSilo.SearchToken);
            using var response = await s_http.SendAsync(request, Cancellation);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{injection}: {response.StatusCode}");
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancellation));
            Assert.Equal(0, json.RootElement.GetProperty("hits").GetArrayLength());
        }

        // Kestrel answers a request line over its limit (414) or a path holding NUL (400) itself, before any endpoint, bare.
        // A query of no word the model knows embeds to a zero vector: it finds nothing, rather than NaN scores.
        using (var unknown = new HttpRequestMessage(HttpMethod.Get, new Uri(_silo.Address, $"/collections/docs/search?q={new string('z', 150)}")))
        {
            unknown.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiSilo.SearchToken);
            using var response = await s_http.SendAsync(unknown, Cancellation);
            var text = await response.Content.ReadAsStringAsync(Cancellation);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {Shorten(text)}");
            Assert.Equal(0, JsonDocument.Parse(text).RootElement.GetProperty("hits").GetArrayLength());
        }

        var unnamed = outcomes.Where(o => o.Status is not (HttpStatusCode.Unauthorized or HttpStatusCode.RequestUriTooLong)
            && !(o.Status == HttpStatusCode.BadRequest && o.Request.Split('?')[0].Contains("%00", StringComparison.Ordinal))
            && !NamesTheProblem(o.Body)).ToList();
        Assert.True(unnamed.Count == 0, "no error message: " + string.Join("\n", unnamed.Take(60).Select(o => $"{o.Status} {o.Request}: '{Shorten(o.Body)}'")));
        TestContext.Current.SendDiagnosticMessage(
            $"{outcomes.Count} hostile requests: " + string.Join(", ", outcomes.GroupBy(o => (int)o.Status).OrderBy(g => g.Key).Select(g => $"{g.Count()} x {g.Key}")));

        await AssertGoodSearchAsync();
        Assert.Equal(before, await CountsAsync());
    }

    public async ValueTask InitializeAsync() => _silo = await ApiSilo.StartAsync(server, "hostile-api", Cancellation);

    public ValueTask DisposeAsync() => _silo.DisposeAsync();

    private static IEnumerable<(HttpMethod Method, string Path, byte[]? Body, string Token)> HostileRequests()
    {
        var search = ApiSilo.SearchToken;
        var operatorToken = ApiSilo.OperatorToken;
        static string E(string value) => Uri.EscapeDataString(value);

        // Search over GET: every parameter broken in turn.
        foreach (var query in new[]
        {
            "q=", "q=%20%20", "q=topic&k=0", "q=topic&k=-1", "q=topic&k=abc", "q=topic&k=99999999999999", "q=topic&k=1001",
            "q=topic&efSearch=0", "q=topic&efSearch=x", "q=%00topic", "q=topic&routingKey=%00", "q=topic&filter=", "q=topic&filter=%3D", "q=topic&filter=a%3E%3Dx", "q=topic&filter=a%3A%3Dnot-json",
            $"q=topic&filter={E("a:=" + new string('[', 5000))}", "q=topic&exact=maybe", "q=topic&exact=true", "q=topic&content=perhaps",
            $"q={E(new string('w', 200_000))}", "q=topic&version=v9", "q=topic&version=V1",
        })
        {
            yield return (HttpMethod.Get, $"/collections/docs/search?{query}", null, search);
        }

        foreach (var injection in s_injections)
        {
            if (!injection.Contains('=', StringComparison.Ordinal))
            {
                yield return (HttpMethod.Get, $"/collections/docs/search?q=topic&filter={E(injection)}", null, search); // no operator: malformed
            }

            yield return (HttpMethod.Get, $"/collections/docs/search?q=topic&version={E(injection)}", null, search);
            yield return (HttpMethod.Get, $"/collections/{E(injection)}/search?q=topic", null, search);
        }

        // Search and feedback over POST: malformed JSON, wrong types, deep nesting, huge bodies, raw bytes.
        var random = new Random(18);
        var bodies = new List<string>
        {
            "", "{", "{\"q\":", "[]", "null", "42", "\"q\"", "{\"q\":123}", "{\"q\":\"topic\",\"k\":\"ten\"}", "{\"q\":\"topic\",\"k\":1e30}",
            "{\"q\":\"topic\",\"filter\":\"topic=1\"}", "{\"q\":\"topic\",\"filter\":[1,2]}", "{\"q\":\"topic\",\"filter\":[\"'; DROP TABLE x; --\"]}",
            "{\"q\":\"topic\",\"exact\":\"maybe\"}", "{\"q\":\"topic\",\"version\":{\"a\":1}}", "{\"q\":null}",
            new string('[', 10_000) + new string(']', 10_000),
            "{\"q\":\"topic\",\"filter\":[\"a:=" + new string('[', 3000) + "\"]}",
            "{\"q\":\"" + new string('z', 2_000_000) + "\"}",
        };
        foreach (var body in bodies)
        {
            yield return (HttpMethod.Post, "/collections/docs/search", Encoding.UTF8.GetBytes(body), search);
            yield return (HttpMethod.Post, "/collections/docs/feedback", Encoding.UTF8.GetBytes(body), search);
        }

        for (var i = 0; i < 10; i++)
        {
            var bytes = new byte[random.Next(1, 4096)];
            random.NextBytes(bytes);
            yield return (HttpMethod.Post, "/collections/docs/search", bytes, search);
        }

        yield return (HttpMethod.Post, "/collections/docs/feedback", Encoding.UTF8.GetBytes("{\"queryId\":\"00000000-0000-0000-0000-000000000000\",\"documentId\":\"" + s_injections[0] + "\",\"kind\":\"click\"}"), search);
        yield return (HttpMethod.Post, "/collections/docs/feedback", Encoding.UTF8.GetBytes("{\"queryId\":\"x\",\"documentId\":\"d1\",\"kind\":\"" + s_injections[3] + "\"}"), search);

        // The operator API: refused without the operator token, and with it every malformed command is a 4xx.
        yield return (HttpMethod.Post, "/api/collections/docs/rollout/start", Encoding.UTF8.GetBytes("{\"version\":\"v2\"}"), search);
        foreach (var injection in s_injections)
        {
            var version = JsonSerializer.Serialize(injection);
            yield return (HttpMethod.Post, "/api/collections/docs/models", Encoding.UTF8.GetBytes($"{{\"version\":{version},\"modelPath\":\"/tmp\"}}"), operatorToken);
            yield return (HttpMethod.Post, "/api/collections/docs/models", Encoding.UTF8.GetBytes($"{{\"version\":\"v2\",\"modelPath\":{version}}}"), operatorToken);
            yield return (HttpMethod.Post, "/api/collections/docs/models", Encoding.UTF8.GetBytes($"{{\"version\":\"v2\",\"modelPath\":\"/tmp\",\"representation\":{version}}}"), operatorToken);
            yield return (HttpMethod.Post, "/api/collections/docs/rollout/start", Encoding.UTF8.GetBytes($"{{\"version\":{version}}}"), operatorToken);
            yield return (HttpMethod.Post, "/api/collections/docs/rollout/traffic", Encoding.UTF8.GetBytes($"{{\"version\":{version},\"percent\":10}}"), operatorToken);
            yield return (HttpMethod.Get, $"/api/collections/{E(injection)}/rollout", null, operatorToken);
            yield return (HttpMethod.Get, $"/api/collections/{E(injection)}/rollout/series", null, operatorToken);
            yield return (HttpMethod.Get, $"/api/collections/{E(injection)}/rollout/metrics", null, operatorToken);
            yield return (HttpMethod.Get, $"/api/collections/{E(injection)}/dead-letters", null, operatorToken);
        }

        foreach (var body in new[]
        {
            "", "{", "[]", "{\"version\":7}", "{\"version\":\"v1\",\"percent\":\"half\"}", "{\"version\":\"v1\",\"percent\":1000}",
            "{\"version\":\"v1\",\"percent\":-5}", "{\"version\":\"v2\",\"modelPath\":\"/tmp\",\"dimensions\":-3}",
            "{\"version\":\"v2\",\"modelPath\":\"/tmp\",\"rerankOversample\":\"many\"}", new string('{', 10_000),
        })
        {
            yield return (HttpMethod.Post, "/api/collections/docs/rollout/traffic", Encoding.UTF8.GetBytes(body), operatorToken);
            yield return (HttpMethod.Post, "/api/collections/docs/models", Encoding.UTF8.GetBytes(body), operatorToken);
        }

        yield return (HttpMethod.Get, "/api/collections/docs/index?version=%27%3B%20DROP%20TABLE%20x", null, operatorToken);
        yield return (HttpMethod.Get, "/api/collections/docs/rollout/metrics?minutes=abc", null, operatorToken);
        yield return (HttpMethod.Get, "/api/collections/docs/rollout/series?minutes=abc", null, operatorToken);
        yield return (HttpMethod.Get, "/api/collections/docs/rollout/series?minutes=10080&bucketSeconds=1", null, operatorToken);
        yield return (HttpMethod.Get, "/api/collections/docs/rollout/series?bucketSeconds=99999999999", null, operatorToken);
        yield return (HttpMethod.Get, "/api/collections/docs/dead-letters?latest=%27%3B--", null, operatorToken);
        yield return (HttpMethod.Get, "/api/collections", null, search);
        yield return (HttpMethod.Get, "/api/collections/docs/dead-letters", null, search);
    }

    private static bool NamesTheProblem(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("error", out var error)
                && error.GetString() is { Length: > 10 };
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private async Task AssertGoodSearchAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_silo.Address, $"/collections/docs/search?q={Uri.EscapeDataString(ApiSilo.Text(3))}&k=1"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiSilo.SearchToken);
        using var response = await s_http.SendAsync(request, Cancellation);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Cancellation));
        Assert.Equal("d3", json.RootElement.GetProperty("hits")[0].GetProperty("id").GetString());
    }

    private async Task<string> CountsAsync()
    {
        await using var dataSource = Storage.EmbeddingsDataSource.Create(_silo.ConnectionString);
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT (SELECT count(*) FROM embeddings_documents) || '/' || (SELECT count(*) FROM embeddings_model_versions) || '/' ||
                   (SELECT count(*) FROM {StorageNames.Quote(StorageNames.VersionTableName("docs", "v1"))} WHERE NOT deleted) || '/' ||
                   (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')
            """);
        return (string)(await command.ExecuteScalarAsync(Cancellation))!;
    }

    private static string Shorten(string value) => value.Length <= 120 ? value : value[..120] + "…";
}
