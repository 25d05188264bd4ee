using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Embeddings.Client.Evaluation;
using Orleans.Embeddings.Client.Search;
using Orleans.Embeddings.Collections;
using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Storage.Search;

namespace Orleans.Embeddings.Benchmarks.Evaluation;

/// <summary>
/// Evidence for a rollout on the Debian corpus: v1 = a static model of 128 dimensions without IDF weighting, v2 = 256
/// dimensions with IDF weighting, both built from the corpus. The built-in evaluation set (a package's synopsis, which is
/// not part of its content, as the query; the package as the answer) is evaluated through the SDK while v2 is still
/// loading (restricted to the documents both hold) and once it is Ready; then searches are split 50/50 with every one
/// shadowed on the other version, and the shadow comparison is read from the search log.
/// </summary>
internal sealed class EvalBenchmark : IBenchmark
{
    private const string Collection = "debian";
    private const int ShadowSearches = 2000;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        var corpus = await DebianCorpus.LoadAsync(cancellationToken);
        var work = Directory.CreateTempSubdirectory("oe-bench-eval-").FullName;
        try
        {
            var texts = corpus.Select(p => p.Content).ToList();
            var v1 = new StaticEmbeddingModelBuilder { Dimensions = 128, IdfWeighting = false }.Build(texts, Path.Combine(work, "v1"), "debian-static-128");
            var v2 = new StaticEmbeddingModelBuilder { Dimensions = 256, IdfWeighting = true }.Build(texts, Path.Combine(work, "v2"), "debian-static-256-idf");
            var queries = TitleEvaluationSet.Write(corpus.Select(p => (p.Id, p.Title)), Path.Combine(work, "set"));
            var set = EvaluationSet.Load(Path.Combine(work, "set", "queries.tsv"), Path.Combine(work, "set", "qrels.tsv"));
            Console.WriteLine($"eval benchmark: one silo, {Environment.ProcessorCount} cores; {corpus.Count:N0} documents; {queries:N0} queries (a package's synopsis → that package)");
            Console.WriteLine("v1: static, 128 dimensions, no IDF weighting; v2: static, 256 dimensions, IDF-weighted");

            await using var database = await BenchmarkDatabase.CreateAsync("eval", cancellationToken);
            using var silo = BenchmarkSilo.Build(database.ConnectionString, "bench-eval", out var gatewayPort, o => o.Search.ShadowSampleRate = 1);
            await silo.StartAsync(cancellationToken);
            using var clientHost = BenchmarkSilo.BuildClient(gatewayPort, "bench-eval");
            await clientHost.StartAsync(cancellationToken);
            try
            {
                var client = clientHost.Services.GetRequiredService<EmbeddingSearchClient>();
                var evaluator = RetrievalEvaluator.For(client);
                await BenchmarkIngest.IngestAsync(silo, database, Collection, "v1", v1.Directory, corpus, _ => "{}", cancellationToken);
                await silo.Services.GetRequiredService<VersionIndexes>().BuildAsync(Collection, "v1", cancellationToken); // as v2 will have

                // While v2 loads: the evaluation is restricted to the documents both versions hold.
                var coordinator = silo.Services.GetRequiredService<IGrainFactory>().GetGrain<IVersionCoordinatorGrain>(Collection);
                await coordinator.RegisterModelAsync("v2", v2.Directory);
                await coordinator.StartRolloutAsync("v2");
                EvaluationReport? loading = null;
                while (true)
                {
                    var status = await coordinator.GetStatusAsync();
                    if (status.Rollout is { Step: "loading", Done: > 5_000 } run && loading is null)
                    {
                        loading = await evaluator.EvaluateAsync(Collection, Subset(set, 400), ["v1", "v2"], 10, cancellationToken: cancellationToken);
                        Console.WriteLine($"during the load ({run.Done:N0}/{run.Total:N0} loaded when it started):");
                        Print(loading);
                    }

                    if (status.Versions.Single(v => v.Version == "v2").State == VersionState.Ready)
                    {
                        break;
                    }

                    if (status.Rollout?.Step is "failed" or "cancelled")
                    {
                        throw new InvalidOperationException($"The rollout failed: {status.Rollout.Error}");
                    }

                    await Task.Delay(200, cancellationToken);
                }

                var clock = Stopwatch.StartNew();
                var ready = await evaluator.EvaluateAsync(Collection, set, ["v1", "v2"], 10, cancellationToken: cancellationToken);
                Console.WriteLine($"once v2 is Ready ({clock.Elapsed.TotalSeconds:F0} s for {ready.Queries * 2:N0} searches):");
                Print(ready);

                // Online: half the users on each version, every search shadowed on the other.
                var split = await coordinator.SetTrafficAsync("v2", 50);
                await Task.Delay(1500, cancellationToken);
                var since = DateTimeOffset.UtcNow;
                var titles = set.Queries.Values.ToArray();
                for (var i = 0; i < ShadowSearches; i++)
                {
                    await client.SearchAsync(Collection, titles[i % titles.Length], routingKey: $"user-{i}", cancellationToken: cancellationToken);
                }

                await Task.Delay(3000, cancellationToken); // the shadow loop and the log flush
                var log = silo.Services.GetRequiredService<SearchLog>();
                var online = await log.ReadVersionStatsAsync(Collection, since, cancellationToken);
                var shadow = await log.ReadShadowStatsAsync(Collection, since, cancellationToken);
                Console.WriteLine();
                Console.WriteLine($"online at 50/50 (epoch {split.Epoch}), {ShadowSearches:N0} searches through the SDK, every one shadowed on the other version:");
                Console.WriteLine($"{"version",8} {"searches",9} {"p50 ms",8} {"p99 ms",8} {"failed",7} {"empty",6}");
                foreach (var v in online)
                {
                    Console.WriteLine($"{v.Version,8} {v.Searches,9:N0} {v.P50Milliseconds,8:F2} {v.P99Milliseconds,8:F2} {v.Failed,7} {v.Empty,6}");
                }

                Console.WriteLine($"{"answered",8} {"shadow",7} {"samples",8} {"overlap@10",11} {"RBO",7} {"latency delta p50 ms",21}");
                foreach (var s in shadow)
                {
                    Console.WriteLine($"{s.Version,8} {s.Candidate,7} {s.Samples,8:N0} {s.Overlap,11:F3} {s.Rbo,7:F3} {s.LatencyDeltaP50Milliseconds,21:+0.00;-0.00}");
                }

                var samples = shadow.Sum(s => s.Samples);
                var overlap = samples == 0 ? double.NaN : shadow.Sum(s => s.Samples * (s.Overlap ?? 0)) / samples;
                var rbo = samples == 0 ? double.NaN : shadow.Sum(s => s.Samples * (s.Rbo ?? 0)) / samples;
                var (r1, r2, comparison) = (ready.Versions[0], ready.Versions[1], ready.Comparisons[0]);
                Console.WriteLine($"v2 nDCG@10 {(r2.Ndcg10.Mean > r1.Ndcg10.Mean && comparison.PValue < 0.05 ? "above" : "NOT above")} v1's with p < 0.05 (p = {comparison.PValue:F4})");
                Console.WriteLine($"total {total.Elapsed.TotalSeconds:F0} s");
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"RESULT eval v1_ndcg10={r1.Ndcg10.Mean:F4} v2_ndcg10={r2.Ndcg10.Mean:F4} p_value={comparison.PValue:F4} shadow_overlap10={overlap:F3} " +
                    $"shadow_rbo={rbo:F3} shadow_samples={samples} v1_recall10={r1.Recall.Mean:F4} v2_recall10={r2.Recall.Mean:F4} v1_mrr10={r1.Mrr10.Mean:F4} v2_mrr10={r2.Mrr10.Mean:F4} " +
                    $"queries={ready.Queries} loading_queries={loading?.Queries ?? 0} loading_v1_ndcg10={loading?.Versions[0].Ndcg10.Mean ?? double.NaN:F4} loading_v2_ndcg10={loading?.Versions[1].Ndcg10.Mean ?? double.NaN:F4}"));
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

        Console.WriteLine($"  {"version",8} {"recall@10",26} {"nDCG@10",26} {"MRR@10",26}");
        foreach (var v in report.Versions)
        {
            Console.WriteLine($"  {v.Version,8} {Format(v.Recall),26} {Format(v.Ndcg10),26} {Format(v.Mrr10),26}");
        }

        foreach (var c in report.Comparisons)
        {
            Console.WriteLine($"  {c.Version} − {c.Baseline}: nDCG@10 {Format(c.NdcgDifference)}, paired randomization test p = {c.PValue:F4}");
        }
    }

    private static string Format(Estimate e) => string.Create(CultureInfo.InvariantCulture, $"{e.Mean:F4} [{e.Low:F4}, {e.High:F4}]");
}
