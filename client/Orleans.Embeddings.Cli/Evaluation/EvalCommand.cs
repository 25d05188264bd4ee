using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Orleans.Embeddings.Cli.Api;
using Orleans.Embeddings.Cli.Rollouts;
using Orleans.Embeddings.Client.Evaluation;
using Orleans.Embeddings.Search;
using Spectre.Console;

namespace Orleans.Embeddings.Cli.Evaluation;

/// <summary>
/// <c>embeddings eval</c>: recall@k, nDCG@10 and MRR@10 of model versions side by side on labelled queries, with bootstrap
/// intervals and a paired test, through a silo's search API; and <c>embeddings eval build-set</c> for the corpus's set.
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var (collection, api, token) = (SiloApi.CollectionOption(), SiloApi.ApiOption(), SiloApi.SearchTokenOption());
        var queries = new Option<FileInfo>("--queries") { Description = "queries.tsv: query-id TAB text.", Required = true };
        var qrels = new Option<FileInfo>("--qrels") { Description = "qrels.tsv: query-id TAB document-id TAB relevance (or TREC's four columns).", Required = true };
        var versions = new Option<string>("--versions") { Description = "The versions to compare, comma-separated; later ones are tested against the first.", Required = true };
        var k = new Option<int>("-k") { Description = "The recall cut-off.", DefaultValueFactory = _ => 10 };
        var exactReference = new Option<bool>("--exact-reference")
        {
            Description = "Also search each query exactly (every row, no ANN index) on the first version, and report each version's recall of that exact top k (slow: a full scan per query).",
        };
        var command = new Command("eval", "Evaluate model versions on labelled queries (works on a version that is still loading).")
        {
            collection, queries, qrels, versions, k, exactReference, api, token, BuildSet(),
        };
        command.SetAction(async (result, ct) =>
        {
            try
            {
                var set = EvaluationSet.Load(result.GetValue(queries)!.FullName, result.GetValue(qrels)!.FullName);
                var names = result.GetValue(versions)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                using var client = SiloApi.CreateForSearch(result.GetValue(api)!, result.GetValue(token));
                var name = result.GetValue(collection)!;
                var evaluator = new RetrievalEvaluator(
                    async (request, c) => ToResponse(request, await client.PostAsync<JsonElement>(
                        name, "search", new { q = request.Text, k = request.K, version = request.Version, presentIn = request.PresentIn, exact = request.Exact }, c)),
                    async (_, v, ids, c) => await client.PostAsync<VersionCoverageResponse>(name, "coverage", new { versions = v, ids }, c))
                {
                    ExactReference = result.GetValue(exactReference),
                };
                EvaluationReport? report = null;
                await AnsiConsole.Progress().StartAsync(async progress =>
                {
                    var task = progress.AddTask("searching", maxValue: set.Judgements.Count * names.Length);
                    report = await evaluator.EvaluateAsync(name, set, names, result.GetValue(k), new Progress<int>(done => task.Value = done), ct);
                    task.Value = task.MaxValue;
                });
                Print(report!);
                return 0;
            }
            catch (Exception ex) when (ex is FormatException or InvalidOperationException or ArgumentException)
            {
                return RolloutCommand.Fail(ex.Message);
            }
        });
        return command;
    }

    private static Command BuildSet()
    {
        var corpus = new Option<FileInfo>("--corpus") { Description = "The corpus (JSON lines with id and metadata.title), as infra/corpus/debian-corpus.sh writes it.", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Where to write queries.tsv and qrels.tsv.", Required = true };
        var every = new Option<int>("--every") { Description = "Take every n-th usable document.", DefaultValueFactory = _ => 32 };
        var command = new Command("build-set", "Build an evaluation set from the corpus: a document's title (a Debian synopsis, not part of its content) is the query, the document its answer.")
        {
            corpus, output, every,
        };
        command.SetAction(result =>
        {
            try
            {
                var documents = File.ReadLines(result.GetValue(corpus)!.FullName).Select((line, n) =>
                {
                    using var json = JsonDocument.Parse(line);
                    var root = json.RootElement;
                    return root.TryGetProperty("metadata", out var metadata) && metadata.TryGetProperty("title", out var title)
                        ? (root.GetProperty("id").GetString()!, title.GetString() ?? "")
                        : throw new FormatException($"{result.GetValue(corpus)!.FullName}:{n + 1}: no metadata.title.");
                }).ToList();
                var written = TitleEvaluationSet.Write(documents, result.GetValue(output)!.FullName, result.GetValue(every));
                Console.WriteLine($"wrote {written} queries to {Path.Combine(result.GetValue(output)!.FullName, "queries.tsv")} and their answers to qrels.tsv");
                return 0;
            }
            catch (Exception ex) when (ex is FormatException or JsonException or IOException or KeyNotFoundException)
            {
                return RolloutCommand.Fail(ex.Message);
            }
        });
        return command;
    }

    private static SearchResponse ToResponse(SearchRequest request, JsonElement answer) => new(
        request.Collection,
        answer.GetProperty("version").GetString()!,
        answer.GetProperty("pinned").GetBoolean(),
        answer.GetProperty("epoch").GetInt64(),
        [.. answer.GetProperty("hits").EnumerateArray().Select(h => new SearchHit(h.GetProperty("id").GetString()!, h.GetProperty("score").GetDouble(), "{}", null, h.GetProperty("version").GetString()!))],
        answer.GetProperty("embedMilliseconds").GetDouble(),
        answer.GetProperty("searchMilliseconds").GetDouble());

    internal static void Print(EvaluationReport report)
    {
        static string F(Estimate e) => string.Create(CultureInfo.InvariantCulture, $"{e.Mean:F4} [{e.Low:F4}, {e.High:F4}]");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"collection {report.Collection}: {report.Queries} queries, recall@{report.K}, nDCG@10 and MRR@10 with bootstrap 95% intervals"));
        if (report.Restricted)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"The versions hold different documents ({string.Join(", ", report.Versions.Select(v => $"{v.Version}: {v.LiveDocuments:N0}"))}; one is still loading): " +
                $"every search was restricted to the documents all of them hold, as were the judgements ({report.JudgedDocumentsPresent:N0} judged documents present); {report.SkippedQueries} queries without a relevant document among them were skipped."));
        }

        // Plain aligned lines, not a table: a redirected console is 80 columns wide and would wrap the intervals.
        var reference = report.ExactReference is { } first ? $" recall of {first} exact top-{report.K} [95% CI]" : "";
        Console.WriteLine($"{"version",-10} {"documents",10} {$"recall@{report.K} [95% CI]",-26} {"nDCG@10 [95% CI]",-26} {"MRR@10 [95% CI]",-26}{reference}");
        foreach (var v in report.Versions)
        {
            var recall = v.ReferenceRecall is { } r ? $" {F(r)}" : "";
            Console.WriteLine($"{v.Version,-10} {v.LiveDocuments.ToString("N0", CultureInfo.InvariantCulture),10} {F(v.Recall),-26} {F(v.Ndcg10),-26} {F(v.Mrr10),-26}{recall}");
        }

        if (report.ExactReference is not null)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"recall of {report.ExactReference} exact top-{report.K}: the share of {report.ExactReference}'s exact answer (every row ranked, no index) that each version's own search returns; for {report.ExactReference} itself, its index's recall."));
        }

        foreach (var c in report.Comparisons)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{c.Version} vs {c.Baseline}: nDCG@10 difference {c.NdcgDifference.Mean:+0.0000;-0.0000} [{c.NdcgDifference.Low:+0.0000;-0.0000}, {c.NdcgDifference.High:+0.0000;-0.0000}], " +
                $"p = {c.PValue:0.0000} (paired randomization test, 10,000 permutations): {(c.PValue < 0.05 ? "significant" : "not significant")} at 0.05"));
        }
    }
}
