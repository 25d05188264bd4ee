using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Orleans.Embeddings.Cli.Api;
using Orleans.Embeddings.Cli.Rollouts;
using Orleans.Embeddings.Search;
using Spectre.Console;

namespace Orleans.Embeddings.Cli.Search;

/// <summary><c>embeddings search "text" -c collection</c>: one search through a silo's HTTP API, with the search token.</summary>
internal static class SearchCommand
{
    public static Command Create()
    {
        var (collection, api, token) = (SiloApi.CollectionOption(), SiloApi.ApiOption(), SiloApi.SearchTokenOption());
        var text = new Argument<string>("text") { Description = "The query text." };
        var k = new Option<int>("-k") { Description = "How many hits (1-1000).", DefaultValueFactory = _ => SearchRequest.DefaultK };
        var version = new Option<string?>("--version") { Description = "Search this version instead of the traffic split (even one still loading)." };
        var routingKey = new Option<string?>("--routing-key") { Description = "What the traffic split is sticky by (a user or session id)." };
        var filter = new Option<string[]>("--filter")
        {
            Description = "A metadata condition, repeatable (AND): field=text, field:=json (field:=[\"a\",\"b\"] for any of a list), field>=number, field<=number.",
            AllowMultipleArgumentsPerToken = false,
        };
        var content = new Option<bool>("--content") { Description = "Show the documents' content." };
        var exact = new Option<bool>("--exact") { Description = "Rank every row of the --version exactly instead of using its ANN index (slow; for evaluation)." };
        var json = new Option<bool>("--json") { Description = "Print the silo's JSON answer." };
        var command = new Command("search", "Search a collection: the query is embedded with the same version whose table is searched.")
        {
            text, collection, k, version, routingKey, filter, content, exact, json, api, token,
        };
        command.SetAction(async (result, ct) =>
        {
            var filters = result.GetValue(filter) ?? [];
            try
            {
                foreach (var f in filters)
                {
                    SearchFilter.Parse(f); // refuse a malformed filter before calling
                }

                using var client = SiloApi.CreateForSearch(result.GetValue(api)!, result.GetValue(token));
                var body = new
                {
                    q = result.GetValue(text),
                    k = result.GetValue(k),
                    filter = filters,
                    version = result.GetValue(version),
                    routingKey = result.GetValue(routingKey),
                    content = result.GetValue(content),
                    exact = result.GetValue(exact),
                };
                var answer = await client.PostAsync<JsonElement>(result.GetValue(collection)!, "search", body, ct);
                if (result.GetValue(json))
                {
                    Console.WriteLine(JsonSerializer.Serialize(answer, SiloApi.Json));
                }
                else
                {
                    Print(answer, result.GetValue(content));
                }

                return 0;
            }
            catch (Exception ex) when (ex is FormatException or InvalidOperationException)
            {
                return RolloutCommand.Fail(ex.Message);
            }
        });
        return command;
    }

    private static void Print(JsonElement answer, bool content)
    {
        var hits = answer.GetProperty("hits");
        AnsiConsole.MarkupLine(CultureInfo.InvariantCulture,
            "version [bold]{0}[/] ({1}) · {2} hits · embed {3:F1} ms · search {4:F1} ms",
            Markup.Escape(answer.GetProperty("version").GetString() ?? ""),
            answer.GetProperty("pinned").GetBoolean() ? "pinned" : $"traffic split, epoch {answer.GetProperty("epoch").GetInt64()}",
            hits.GetArrayLength(),
            answer.GetProperty("embedMilliseconds").GetDouble(),
            answer.GetProperty("searchMilliseconds").GetDouble());
        var table = new Table().AddColumns("#", "id", "score", "metadata");
        if (content)
        {
            table.AddColumn("content");
        }

        var rank = 0;
        foreach (var hit in hits.EnumerateArray())
        {
            var row = new List<string>
            {
                (++rank).ToString(CultureInfo.InvariantCulture),
                Markup.Escape(hit.GetProperty("id").GetString() ?? ""),
                hit.GetProperty("score").GetDouble().ToString("F4", CultureInfo.InvariantCulture),
                Markup.Escape(Shorten(hit.GetProperty("metadata").GetRawText(), 60)),
            };
            if (content)
            {
                row.Add(Markup.Escape(Shorten(hit.TryGetProperty("content", out var c) ? c.GetString() ?? "" : "", 80)));
            }

            table.AddRow([.. row]);
        }

        AnsiConsole.Write(table);
    }

    private static string Shorten(string text, int length) => text.Length <= length ? text : string.Concat(text.AsSpan(0, length - 1), "…");
}
