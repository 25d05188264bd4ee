using System.Net;
using System.Net.Http.Headers;
using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Silo.Tests;

/// <summary>The operator HTTP API and the <c>embeddings rollout</c> / <c>models</c> commands against a real silo.</summary>
public sealed class OperatorApiTests(PostgresServer server) : IAsyncLifetime
{
    private const string OperatorToken = ApiSilo.OperatorToken;
    private const string SearchToken = ApiSilo.SearchToken;
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private ApiSilo _silo = null!;
    private Uri _address = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_operator_API_needs_the_operator_token()
    {
        using var anonymous = await s_http.GetAsync(new Uri(_address, "/api/collections/docs/rollout"), Cancellation);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.ToString());

        Assert.Equal(HttpStatusCode.Unauthorized, await SendAsync(HttpMethod.Get, "rollout", "not-the-token-at-all-0000"));
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(HttpMethod.Post, "rollout/rollback", SearchToken));
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(HttpMethod.Get, "rollout", SearchToken));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Get, "rollout", OperatorToken));
        Assert.Equal(HttpStatusCode.NotFound, await SendAsync(HttpMethod.Get, "rollout", OperatorToken, collection: "nosuch"));
        Assert.Equal(HttpStatusCode.Conflict, await SendAsync(HttpMethod.Post, "rollout/rollback", OperatorToken));
    }

    [Fact]
    public async Task The_cli_registers_rolls_out_watches_shifts_promotes_and_rolls_back()
    {
        var folder = Path.Combine(_silo.Models, "v2");
        new StaticEmbeddingModelBuilder { Dimensions = 24, MaxTokens = 32, Seed = 9 }.Build(ApiSilo.Texts(), folder, "cli-v2");
        string[] connection = ["-c", "docs", "--api", _address.ToString(), "--token", OperatorToken];

        // The first version has no ANN index until it is built.
        var index = await EmbeddingsCli.RunAsync(["models", "index", "v1", "--wait", .. connection], Cancellation);
        Assert.True(index.ExitCode == 0, index.Output);
        Assert.Matches(@"v1: index Built, ef \d+: recall@10 [01]\.\d{3} \((target|below the target) 0\.95;", index.Output);

        // The collection's own target recall, taken when the index is measured again.
        var setTarget = await EmbeddingsCli.RunAsync(["collection", "set", "--target-recall", "0.99", .. connection], Cancellation);
        Assert.True(setTarget.ExitCode == 0, setTarget.Output);
        Assert.Contains("docs: target recall@10 0.99", setTarget.Output, StringComparison.Ordinal);
        var remeasured = await EmbeddingsCli.RunAsync(["models", "index", "v1", "--wait", .. connection], Cancellation);
        Assert.True(remeasured.ExitCode == 0, remeasured.Output);
        Assert.Matches(@"\((target|below the target) 0\.99;", remeasured.Output);
        var badTarget = await EmbeddingsCli.RunAsync(["collection", "set", "--target-recall", "1.5", .. connection], Cancellation);
        Assert.Equal(1, badTarget.ExitCode);
        Assert.Contains("at most 1", badTarget.Output, StringComparison.Ordinal);
        var reset = await EmbeddingsCli.RunAsync(["collection", "set", "--default-target-recall", .. connection], Cancellation);
        Assert.True(reset.ExitCode == 0, reset.Output);
        var show = await EmbeddingsCli.RunAsync(["collection", "show", .. connection], Cancellation);
        Assert.Contains("docs: target recall@10 default", show.Output, StringComparison.Ordinal);
        var noCollection = await EmbeddingsCli.RunAsync(["collection", "show", "-c", "nosuch", "--api", _address.ToString(), "--token", OperatorToken], Cancellation);
        Assert.Equal(1, noCollection.ExitCode);
        Assert.Contains("does not exist", noCollection.Output, StringComparison.Ordinal);
        var noVersion = await EmbeddingsCli.RunAsync(["models", "index", "v9", .. connection], Cancellation);
        Assert.Equal(1, noVersion.ExitCode);
        Assert.Contains("has no version v9", noVersion.Output, StringComparison.Ordinal);

        var register = await EmbeddingsCli.RunAsync(["models", "register", "v2", folder, .. connection], Cancellation);
        Assert.True(register.ExitCode == 0, register.Output);
        Assert.Contains("registered v2: vector(24), Registered", register.Output, StringComparison.Ordinal);

        var badLength = await EmbeddingsCli.RunAsync(["models", "register", "v3", folder, "--representation", "binary", "--dimensions", "12", .. connection], Cancellation);
        Assert.Equal(1, badLength.ExitCode);
        Assert.Contains("was not trained for Matryoshka truncation", badLength.Output, StringComparison.Ordinal);
        var badRepresentation = await EmbeddingsCli.RunAsync(["models", "register", "v3", folder, "--representation", "int8", .. connection], Cancellation);
        Assert.Equal(1, badRepresentation.ExitCode);
        Assert.Contains("'int8' is not a vector representation", badRepresentation.Output, StringComparison.Ordinal);

        var list = await EmbeddingsCli.RunAsync(["models", "list", .. connection], Cancellation);
        Assert.Contains("v2", list.Output, StringComparison.Ordinal);
        Assert.Contains("Primary", list.Output, StringComparison.Ordinal);
        Assert.Matches(@"v1: ef \d+: recall@10 [01]\.\d{3} \((target|below the target) 0\.99;", list.Output); // as last measured

        var start = await EmbeddingsCli.RunAsync(["rollout", "start", "v2", .. connection], Cancellation);
        Assert.True(start.ExitCode == 0, start.Output);
        var watch = await EmbeddingsCli.RunAsync(["rollout", "status", "--watch", .. connection], Cancellation);
        Assert.True(watch.ExitCode == 0, watch.Output);
        Assert.Contains("Ready", watch.Output, StringComparison.Ordinal);
        Assert.Matches(@"v2: ef \d+: recall@10 [01]\.\d{3} \((target|below the target) 0\.95;", watch.Output); // measured before Ready

        var traffic = await EmbeddingsCli.RunAsync(["rollout", "traffic", "v2", "50", .. connection], Cancellation);
        Assert.True(traffic.ExitCode == 0, traffic.Output);
        Assert.Contains("Serving", traffic.Output, StringComparison.Ordinal);
        var refused = await EmbeddingsCli.RunAsync(["rollout", "retire", "v2", .. connection], Cancellation);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("receives 50% of search traffic", refused.Output, StringComparison.Ordinal);

        var promote = await EmbeddingsCli.RunAsync(["rollout", "promote", "v2", .. connection], Cancellation);
        Assert.True(promote.ExitCode == 0, promote.Output);
        Assert.Contains("Draining", promote.Output, StringComparison.Ordinal);
        var rollback = await EmbeddingsCli.RunAsync(["rollout", "rollback", .. connection], Cancellation);
        Assert.True(rollback.ExitCode == 0, rollback.Output);
        Assert.True(rollback.Output.Contains("RolledBack", StringComparison.Ordinal), rollback.Output);
        var status = await EmbeddingsCli.RunAsync(["rollout", "status", .. connection], Cancellation);
        Assert.True(status.ExitCode == 0, status.Output);
        Assert.Contains("no searches since", status.Output, StringComparison.Ordinal); // the per-version search figures

        var unknown = await EmbeddingsCli.RunAsync(["rollout", "promote", "v9", .. connection], Cancellation);
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("no version v9", unknown.Output, StringComparison.Ordinal);
        var noToken = await EmbeddingsCli.RunAsync(["rollout", "status", "-c", "docs", "--api", _address.ToString(), "--token", SearchToken], Cancellation);
        Assert.Equal(1, noToken.ExitCode);
        Assert.Contains("403", noToken.Output, StringComparison.Ordinal);
    }

    public async ValueTask InitializeAsync()
    {
        _silo = await ApiSilo.StartAsync(server, "operator", Cancellation);
        _address = _silo.Address;
    }

    public ValueTask DisposeAsync() => _silo.DisposeAsync();

    private async Task<HttpStatusCode> SendAsync(HttpMethod method, string path, string token, string collection = "docs")
    {
        using var request = new HttpRequestMessage(method, new Uri(_address, $"/api/collections/{collection}/{path}"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await s_http.SendAsync(request, Cancellation);
        return response.StatusCode;
    }
}
