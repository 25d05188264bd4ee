using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using OpenQA.Selenium;
using Orleans.Embeddings.Client.Publishing;
using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Storage;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Silo.Tests.Console;

/// <summary>
/// The operator console in a real headless Chromium (Debian's, through chromedriver): log in (a search token and a wrong
/// token are refused), watch a rollout's progress bar move, change the traffic split, see a refusal, read the online
/// figures as plots and the dead letters, run searches whose hits are tagged with their version, freeze the split (and
/// see a traffic change refused), promote and roll back. The page registers v2 itself (after refusing a bad name and a
/// folder without a model), and asks before a command hard to undo (retire, promote, roll back, cancel). Screenshots go to
/// <c>console-screenshots/</c> next to the test binaries (or to <c>EMBEDDINGS_SCREENSHOTS</c>).
/// </summary>
public sealed class OperatorConsoleTests(PostgresServer server) : IAsyncLifetime
{
    // Enough documents, in small pages one at a time, that the load takes seconds and the page sees it move.
    private const int Documents = 4000;
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(120);
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private ApiSilo _silo = null!;
    private string _screenshots = null!;
    private string _v2Model = null!;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_operator_logs_in_watches_a_rollout_shifts_traffic_sees_refusals_reads_the_figures_searches_promotes_and_rolls_back()
    {
        // What the page will show besides the rollout: a dead letter, and searches (some clicked) on v1.
        await PublishBrokenEventAsync();
        await SearchAsync(30, pinnedTo: null, click: true);

        using var browser = HeadlessChromium.Start();
        var page = new Uri(_silo.Address, "/console");

        // No token, no data: the page only offers the login form, and the API it calls answers 401 without the token.
        browser.Driver.Navigate().GoToUrl(page);
        Assert.EndsWith("/console/", browser.Driver.Url, StringComparison.Ordinal);
        Assert.True(browser.ById("login").Displayed);
        Assert.False(browser.ById("app").Displayed);
        Assert.Empty(browser.Driver.FindElements(By.CssSelector("#versions tbody tr")));
        using (var anonymous = await s_http.GetAsync(new Uri(_silo.Address, "/api/collections"), Cancellation))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        await LogInAsync(browser, ApiSilo.SearchToken);
        await browser.UntilAsync(() => browser.ById("login-error").Text.Contains("may search but not operate", StringComparison.Ordinal), s_timeout, () => "a search token was not refused", Cancellation);
        await LogInAsync(browser, "not-the-operator-token-000");
        await browser.UntilAsync(() => browser.ById("login-error").Text.Contains("refused that token", StringComparison.Ordinal), s_timeout, () => "a wrong token was not refused", Cancellation);
        Assert.False(browser.ById("app").Displayed);

        await LogInAsync(browser, ApiSilo.OperatorToken);
        await browser.UntilAsync(() => StateOf(browser, "v1") == "Primary", s_timeout, () => "the versions table did not show v1 Primary", Cancellation);
        Assert.False(browser.ById("login").Displayed);
        Assert.Equal("docs", browser.Script("return document.getElementById('collection').value"));
        Assert.True((bool)browser.Script("return typeof Chart === 'function'")!, "Chart.js did not load from the silo");

        // Register v2 from the page: a name that cannot be a version and a folder that holds no model are refused with
        // the coordinator's reason, then the real folder is probed on the silo and recorded.
        await RegisterAsync(browser, "V 2!", _v2Model);
        await browser.UntilAsync(() => browser.ById("message").Text.StartsWith("Registering V 2! refused (400): Invalid version name 'V 2!'", StringComparison.Ordinal), s_timeout,
            () => $"a bad version name was not refused: '{browser.ById("message").Text}'", Cancellation);
        await RegisterAsync(browser, "v2", "/nonexistent-model");
        await browser.UntilAsync(() => browser.ById("message").Text.StartsWith("Registering v2 refused (409): ", StringComparison.Ordinal), s_timeout,
            () => $"a folder without a model was not refused: '{browser.ById("message").Text}'", Cancellation);
        Assert.Contains("/nonexistent-model cannot be registered as v2", browser.ById("message").Text, StringComparison.Ordinal);
        Assert.Null(StateOf(browser, "v2"));
        await RegisterAsync(browser, "v2", _v2Model);
        await browser.UntilAsync(() => browser.ById("message").Text == "v2 registered (vector(24))." && StateOf(browser, "v2") == "Registered", s_timeout,
            () => $"v2 was not shown registered: '{browser.ById("message").Text}', state {StateOf(browser, "v2")}", Cancellation);
        Assert.Equal(string.Empty, browser.ById("register-version").GetAttribute("value"));

        // The binary settings show only for a binary version, and are what it is registered with.
        Assert.False(browser.ById("register-rerank").Displayed);
        Choose(browser, "register-representation", "binary");
        Assert.True(browser.ById("register-rerank").Displayed);
        browser.ById("register-rerank").SendKeys("8");
        Choose(browser, "register-bits", "2");
        await RegisterAsync(browser, "v3", _v2Model);
        await browser.UntilAsync(() => browser.ById("message").Text == "v3 registered (binary(24x2)+halfvec rerank x8)." && StateOf(browser, "v3") == "Registered", s_timeout,
            () => $"v3 was not shown registered as binary: '{browser.ById("message").Text}', state {StateOf(browser, "v3")}", Cancellation);
        Assert.False(browser.ById("register-rerank").Displayed);

        // Start the rollout from the page and watch the progress bar until v2 is Ready.
        Choose(browser, "control-version", "v2");
        Command(browser, "start");
        await browser.UntilAsync(() => browser.ById("message").Text == "Rollout of v2 started.", s_timeout, () => "the start was not confirmed", Cancellation);
        var samples = new List<(long Done, long Total, string Step)>();
        var screenshotTaken = false;
        await browser.UntilAsync(
            () =>
            {
                var progress = browser.ById("rollout-progress");
                if (progress.GetAttribute("data-step") is { } step)
                {
                    var sample = (long.Parse(progress.GetAttribute("data-done")!, CultureInfo.InvariantCulture), long.Parse(progress.GetAttribute("data-total")!, CultureInfo.InvariantCulture), step);
                    if (samples.Count == 0 || samples[^1] != sample)
                    {
                        samples.Add(sample);
                    }

                    if (!screenshotTaken && sample.Item3 == "loading" && sample.Item1 > 0 && sample.Item1 < sample.Item2)
                    {
                        browser.Screenshot(Path.Combine(_screenshots, "console-rollout.png"));
                        screenshotTaken = true;
                    }
                }

                return StateOf(browser, "v2") == "Ready";
            },
            s_timeout,
            () => $"v2 did not become Ready; progress seen: {string.Join(", ", samples)}",
            Cancellation);
        Assert.True(
            samples.Any(s => s.Step == "loading" && s.Done > 0 && s.Done < s.Total),
            $"the page never showed the load part-way: {string.Join(", ", samples)}");
        Assert.True(samples.Select(s => s.Done).Distinct().Count() >= 2, $"the progress bar did not move: {string.Join(", ", samples)}");
        Assert.All(samples, s => Assert.InRange(s.Done, 0, Documents));
        Assert.StartsWith("Load complete after ", browser.ById("rollout-progress-text").Text, StringComparison.Ordinal);
        Assert.Equal(browser.ById("rollout-progress").GetAttribute("max"), browser.ById("rollout-progress").GetAttribute("value"));
        // A Ready version shows the ef_search measured on its new index and the recall@10 it gave; v1 has no index yet.
        Assert.Matches(@"^\d+ · [01]\.\d{3}$", EfSearchOf(browser, "v2"));
        Assert.StartsWith("recall@10 ", (string?)browser.Script("return document.querySelector(\"#versions tr[data-version='v2'] td.ef-search\").title"), StringComparison.Ordinal);
        Assert.Equal("100 (default)", EfSearchOf(browser, "v1"));

        // Change the traffic split.
        var percent = browser.ById("traffic-percent");
        percent.Clear();
        percent.SendKeys("30");
        Command(browser, "traffic");
        // The page's 1 s refresh can show the new split before the command's own answer confirms it: wait for both.
        await browser.UntilAsync(
            () => TrafficOf(browser, "v2") == "30%" && TrafficOf(browser, "v1") == "70%" && browser.ById("message").Text == "v2 now gets 30% of searches.",
            s_timeout, () => $"the table did not show v1 70% and v2 30% with the confirmation; message '{browser.ById("message").Text}'", Cancellation);
        Assert.Equal("ok", browser.ById("message").GetAttribute("class"));

        // A command hard to undo asks first: declined, nothing is sent.
        Command(browser, "retire");
        Assert.StartsWith("Retire v2 of docs? Its table is dropped", await AnswerConfirmationAsync(browser, accept: false), StringComparison.Ordinal);
        await browser.UntilAsync(() => browser.ById("message").Text == "Retire: not done.", s_timeout, () => $"declining the retire was not shown: '{browser.ById("message").Text}'", Cancellation);
        Assert.Equal("Serving", StateOf(browser, "v2"));

        // A command the coordinator refuses shows its reason.
        Command(browser, "retire");
        await AnswerConfirmationAsync(browser, accept: true);
        await browser.UntilAsync(() => browser.ById("message").GetAttribute("class") == "error", s_timeout, () => "retiring a version with traffic was not refused", Cancellation);
        Assert.Contains("Retire refused (409): Version v2 of docs is Serving and receives 30% of search traffic", browser.ById("message").Text, StringComparison.Ordinal);
        Assert.Equal("Serving", StateOf(browser, "v2"));

        // Searches over the split (each also shadowed on the other version) fill the plots.
        await SearchAsync(40, pinnedTo: null, click: true);
        await browser.UntilAsync(
            () => PlottedPoints(browser, "chart-searches") > 0 && PlottedPoints(browser, "chart-latency") > 0 && PlottedPoints(browser, "chart-ctr") > 0 && PlottedPoints(browser, "chart-shadow") > 0,
            s_timeout,
            () => $"the plots stayed empty: searches {PlottedPoints(browser, "chart-searches")}, latency {PlottedPoints(browser, "chart-latency")}, ctr {PlottedPoints(browser, "chart-ctr")}, shadow {PlottedPoints(browser, "chart-shadow")}",
            Cancellation);
        Assert.Contains("v2", (string)browser.Script("return Chart.getChart('chart-searches').data.datasets.map(d => d.label).join(' ')")!, StringComparison.Ordinal);
        Assert.NotEmpty(browser.Driver.FindElements(By.CssSelector("#shadow-table tbody tr")));
        Assert.Contains("v1", (string)browser.Script("return [...document.querySelectorAll('#figures-table tbody tr td:first-child')].map(c => c.textContent).join(' ')")!, StringComparison.Ordinal);

        // Dead letters: the count and the reason of the broken event.
        await browser.UntilAsync(() => browser.ById("dead-letter-total").Text.StartsWith("1 in docs", StringComparison.Ordinal), s_timeout, () => $"dead letters: '{browser.ById("dead-letter-total").Text}'", Cancellation);
        Assert.Contains("not valid JSON", browser.ById("dead-letter-reasons").Text, StringComparison.Ordinal);
        Assert.Contains("docs/broken-1", browser.ById("dead-letter-latest").Text, StringComparison.Ordinal);

        // A search pinned to v2, then one over the split: every hit names the version that answered.
        Choose(browser, "search-version", "v2");
        await RunSearchAsync(browser, ApiSilo.Text(5));
        var pinned = Hits(browser);
        Assert.Equal("d5", pinned[0].Id);
        Assert.All(pinned, h => Assert.Equal("v2", h.Version));
        Assert.Contains("from v2 (pinned", browser.ById("search-summary").Text, StringComparison.Ordinal);

        Choose(browser, "search-version", string.Empty);
        browser.ById("search-routing-key").SendKeys("user-7");
        await RunSearchAsync(browser, ApiSilo.Text(11));
        var split = Hits(browser);
        Assert.Equal("d11", split[0].Id);
        var answeredBy = split[0].Version;
        Assert.All(split, h => Assert.Equal(answeredBy, h.Version));
        Assert.Contains($"from {answeredBy} (traffic split", browser.ById("search-summary").Text, StringComparison.Ordinal);
        browser.Screenshot(Path.Combine(_screenshots, "console.png"));

        // Nothing was blocked by the page's content security policy and no script failed (the refused logins, the
        // refused registrations and the refused retire are the only failed requests).
        var messages = browser.ConsoleMessages();
        Assert.DoesNotContain(messages, m => m.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase) || m.Contains("Uncaught", StringComparison.Ordinal));
        Assert.All(messages.Where(m => m.StartsWith("Severe", StringComparison.OrdinalIgnoreCase)), m => Assert.Matches(@"status of (400|401|403|409)", m));

        // Freeze the split for an A/B comparison: a traffic change is refused until it is unfrozen.
        Command(browser, "freeze");
        await browser.UntilAsync(() => browser.ById("epoch").Text.Contains("split frozen", StringComparison.Ordinal), s_timeout, () => "the split was not shown frozen", Cancellation);
        percent = browser.ById("traffic-percent");
        percent.Clear();
        percent.SendKeys("40");
        Command(browser, "traffic");
        await browser.UntilAsync(() => browser.ById("message").Text.StartsWith("Set traffic refused (409): Traffic of docs is frozen at 30% for v2", StringComparison.Ordinal), s_timeout, () => "a traffic change under a freeze was not refused", Cancellation);
        Command(browser, "unfreeze");
        await browser.UntilAsync(() => !browser.ById("epoch").Text.Contains("split frozen", StringComparison.Ordinal), s_timeout, () => "the split stayed frozen", Cancellation);

        // Promote v2, then roll back to v1.
        Command(browser, "promote");
        Assert.StartsWith("Promote v2 in docs?", await AnswerConfirmationAsync(browser, accept: true), StringComparison.Ordinal);
        await browser.UntilAsync(() => StateOf(browser, "v2") == "Primary" && TrafficOf(browser, "v2") == "100%" && StateOf(browser, "v1") == "Draining", s_timeout, () => "v2 was not shown promoted", Cancellation);
        Command(browser, "rollback");
        Assert.StartsWith("Roll back the rollout in docs?", await AnswerConfirmationAsync(browser, accept: true), StringComparison.Ordinal);
        await browser.UntilAsync(
            () => StateOf(browser, "v1") == "Primary" && TrafficOf(browser, "v1") == "100%" && TrafficOf(browser, "v2") == "0%" && browser.ById("message").Text == "Rolled back.",
            s_timeout, () => $"the rollback was not shown with its confirmation; message '{browser.ById("message").Text}'", Cancellation);
        Assert.Equal("ok", browser.ById("message").GetAttribute("class"));

        // Log out: the token is forgotten, and a reload asks for it again.
        browser.ById("logout").Click();
        Assert.True(browser.ById("login").Displayed);
        Assert.Null(browser.Script("return sessionStorage.getItem('orleans-embeddings-operator-token')"));
        browser.Driver.Navigate().Refresh();
        Assert.True(browser.ById("login").Displayed);
        Assert.False(browser.ById("app").Displayed);
    }

    public async ValueTask InitializeAsync()
    {
        _screenshots = Environment.GetEnvironmentVariable("EMBEDDINGS_SCREENSHOTS") is { Length: > 0 } configured
            ? configured
            : Path.Combine(AppContext.BaseDirectory, "console-screenshots");
        Directory.CreateDirectory(_screenshots);
        _silo = await ApiSilo.StartAsync(server, "console", Cancellation, Documents,
        [
            "--Embeddings:Indexer:Rollouts:PageSize=8",
            "--Embeddings:Indexer:Rollouts:ConcurrentPages=1",
            "--Embeddings:Indexer:Rollouts:ShardRanges=2",
            "--Embeddings:Indexer:Search:ShadowSampleRate=1",
        ]);

        // The model the page registers as v2.
        _v2Model = Path.Combine(_silo.Models, "v2");
        new StaticEmbeddingModelBuilder { Dimensions = 24, MaxTokens = 32, Seed = 9 }.Build(ApiSilo.Texts(Documents), _v2Model, "console-v2");
    }

    public async ValueTask DisposeAsync() => await _silo.DisposeAsync();

    private async Task PublishBrokenEventAsync()
    {
        await using var dataSource = EmbeddingsDataSource.Create(_silo.ConnectionString);
        await using (var publisher = new PostgresLogPublisher(dataSource, "documents"))
        {
            await publisher.PublishRawAsync("docs", "broken-1", "{\"collection\":\"docs\",\"id\":\"broken-1\",\"op\":"u8.ToArray(), Cancellation);
        }

        await using var command = dataSource.CreateCommand("SELECT count(*) FROM embeddings_stream_dead_letters");
        var deadline = DateTime.UtcNow + s_timeout;
        while ((long)(await command.ExecuteScalarAsync(Cancellation))! == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the broken event was not dead-lettered");
            await Task.Delay(100, Cancellation);
        }
    }

    // Searches over HTTP with the search token (distinct routing keys), clicking the first hit of every other one.
    private async Task SearchAsync(int count, string? pinnedTo, bool click)
    {
        for (var i = 0; i < count; i++)
        {
            var query = Uri.EscapeDataString(ApiSilo.Text(i * 37 % Documents));
            var version = pinnedTo is null ? string.Empty : $"&version={pinnedTo}";
            var answer = await SendAsync<SearchAnswer>(HttpMethod.Get, $"/collections/docs/search?q={query}&k=10&routingKey=user-{i}{version}", body: null);
            if (click && i % 2 == 0 && answer.Hits.Length > 0)
            {
                await SendAsync<object>(HttpMethod.Post, "/collections/docs/feedback", new { queryId = answer.QueryId, documentId = answer.Hits[0].Id, kind = "click" });
            }
        }
    }

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body)
    {
        using var request = new HttpRequestMessage(method, new Uri(_silo.Address, path)) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiSilo.SearchToken);
        using var response = await s_http.SendAsync(request, Cancellation);
        Assert.True(response.IsSuccessStatusCode, $"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Cancellation)}");
        return (await response.Content.ReadFromJsonAsync<T>(Cancellation))!;
    }

    private static async Task LogInAsync(HeadlessChromium browser, string token)
    {
        var field = browser.ById("token");
        field.Clear();
        field.SendKeys(token);
        browser.ById("login-button").Click();
        await Task.Yield();
    }

    private static async Task RunSearchAsync(HeadlessChromium browser, string query)
    {
        var before = browser.ById("search-summary").Text;
        var field = browser.ById("search-query");
        field.Clear();
        field.SendKeys(query);
        browser.ById("search-button").Click();
        await browser.UntilAsync(
            () => browser.ById("search-summary").Text is { Length: > 0 } now && now != before && browser.Driver.FindElements(By.CssSelector("#search-results li")).Count > 0,
            s_timeout, () => $"the search for '{query}' showed no hits", Cancellation);
    }

    // Read in one script, so that a re-render between reads cannot leave a stale element.
    private static List<(string Id, string Version)> Hits(HeadlessChromium browser) =>
        [.. ((IEnumerable<object>)browser.Script(
            "return [...document.querySelectorAll('#search-results li')].map(li => li.querySelector('.hit-id').textContent + ' ' + li.querySelector('.version-tag').textContent)")!)
            .Select(o => ((string)o).Split(' ') switch { [var id, var version] => (id, version), _ => throw new InvalidOperationException($"hit '{o}'") })];

    private static void Choose(HeadlessChromium browser, string select, string value) =>
        browser.Driver.FindElement(By.CssSelector($"#{select} option[value='{value}']")).Click();

    private static async Task RegisterAsync(HeadlessChromium browser, string version, string modelPath)
    {
        foreach (var (field, value) in new[] { ("register-version", version), ("register-path", modelPath) })
        {
            browser.ById(field).Clear();
            browser.ById(field).SendKeys(value);
        }

        browser.ById("register-button").Click();
        await Task.Yield();
    }

    // Answers the question the page asks before a command hard to undo; returns its text.
    private static async Task<string> AnswerConfirmationAsync(HeadlessChromium browser, bool accept)
    {
        IAlert? alert = null;
        await browser.UntilAsync(
            () =>
            {
                try
                {
                    alert = browser.Driver.SwitchTo().Alert();
                    return true;
                }
                catch (NoAlertPresentException)
                {
                    return false;
                }
            },
            s_timeout, () => "the page did not ask for a confirmation", Cancellation);
        var question = alert!.Text;
        if (accept)
        {
            alert.Accept();
        }
        else
        {
            alert.Dismiss();
        }

        return question ?? string.Empty;
    }

    private static void Command(HeadlessChromium browser, string command) =>
        browser.Driver.FindElement(By.CssSelector($"#controls button[data-command='{command}']")).Click();

    private static string? StateOf(HeadlessChromium browser, string version) =>
        (string?)browser.Script($"return document.querySelector(\"#versions tr[data-version='{version}'] .state\")?.textContent ?? null");

    private static string? EfSearchOf(HeadlessChromium browser, string version) =>
        (string?)browser.Script($"return document.querySelector(\"#versions tr[data-version='{version}'] td.ef-search\")?.textContent ?? null");

    private static string? TrafficOf(HeadlessChromium browser, string version) =>
        (string?)browser.Script($"return document.querySelector(\"#versions tr[data-version='{version}'] td.traffic\")?.textContent ?? null");

    // How many points a chart plots, over all its lines.
    private static long PlottedPoints(HeadlessChromium browser, string canvas) =>
        Convert.ToInt64(browser.Script($"return Chart.getChart('{canvas}')?.data.datasets.reduce((n, d) => n + d.data.length, 0) ?? 0"), CultureInfo.InvariantCulture);

    private sealed record SearchAnswer(Guid QueryId, string Version, SearchAnswerHit[] Hits);

    private sealed record SearchAnswerHit(string Id, string Version);
}
