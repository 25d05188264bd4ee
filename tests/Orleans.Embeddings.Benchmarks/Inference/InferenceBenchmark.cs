using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Orleans.Embeddings.Inference.Batching;
using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Sessions;

namespace Orleans.Embeddings.Benchmarks.Inference;

/// <summary>
/// The minilm-l6-shaped encoder on Debian package descriptions: (a) the session run directly on fixed
/// batches in corpus order, at its best batch size, against (b) the dynamic batcher fed by 64 concurrent
/// single-text callers; then query-lane latency idle and while the bulk lane is saturated.
/// </summary>
internal sealed class InferenceBenchmark : IBenchmark
{
    private const int Texts = 768;
    private const int Callers = 64;
    private const int Queries = 300;
    private static readonly int[] s_batchSizes = [8, 16, 32, 64];

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        var corpus = await DebianCorpus.LoadAsync(cancellationToken);
        var sample = corpus.OrderBy(p => p.Id, StringComparer.Ordinal).Where((_, i) => i % (corpus.Count / Texts) == 0).Take(Texts).ToArray();
        var texts = sample.Select(p => p.Content).ToArray();
        var queries = sample.Take(Queries).Select(p => p.Title).ToArray();

        var directory = Directory.CreateTempSubdirectory("oe-bench-minilm-").FullName;
        try
        {
            var (folder, _) = new EncoderModelBuilder { Configuration = EncoderConfiguration.MiniLmL6 }.Build(corpus.Select(p => p.Content), directory, "minilm-l6-seeded");
            using var session = new EmbeddingSession(folder);
            Console.WriteLine($"inference benchmark: {folder.Name} (6 layers, hidden 384), {Texts} Debian descriptions (token limit {folder.MaxTokens}), {Environment.ProcessorCount} cores");
            session.Embed(texts.Take(8).ToArray(), EmbeddingPurpose.Document); // warm-up

            Console.WriteLine();
            Console.WriteLine($"{"run",-36} {"docs/s",8} {"tokens/s",10} {"padding eff.",12}");
            var direct = new List<(int Batch, double DocsPerSecond)>();
            foreach (var batchSize in s_batchSizes)
            {
                var stats = new RunStatistics();
                var stopwatch = Stopwatch.StartNew();
                foreach (var batch in texts.Chunk(batchSize))
                {
                    stats.Add(session.Embed(batch, EmbeddingPurpose.Document));
                }

                var seconds = stopwatch.Elapsed.TotalSeconds;
                direct.Add((batchSize, Texts / seconds));
                Console.WriteLine($"{$"(a) session.Embed, batch {batchSize}",-36} {Texts / seconds,8:F1} {stats.Tokens / seconds,10:N0} {stats.PaddingEfficiency,12:P0}");
            }

            var best = direct.MaxBy(d => d.DocsPerSecond);

            var batcherStats = new RunStatistics();
            var options = new DynamicBatcherOptions { MaxBatchSize = best.Batch };
            double batcherDocsPerSecond;
            double[] bulkLatencies;
            await using (var batcher = new DynamicBatcher((batch, purpose) => batcherStats.Add(session.Embed(batch, purpose)), options))
            {
                var pending = new ConcurrentQueue<string>(texts);
                var latencies = new ConcurrentBag<double>();
                var stopwatch = Stopwatch.StartNew();
                await Task.WhenAll(Enumerable.Range(0, Callers).Select(_ => Task.Run(async () =>
                {
                    while (pending.TryDequeue(out var text))
                    {
                        var started = Stopwatch.GetTimestamp();
                        await batcher.EmbedAsync(text, EmbeddingLane.Bulk, cancellationToken);
                        latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }
                }, cancellationToken)));
                batcherDocsPerSecond = Texts / stopwatch.Elapsed.TotalSeconds;
                bulkLatencies = [.. latencies.Order()];
                Console.WriteLine($"{$"(b) batcher, {Callers} callers, max {best.Batch}",-36} {batcherDocsPerSecond,8:F1} {batcherStats.Tokens / stopwatch.Elapsed.TotalSeconds,10:N0} {batcherStats.PaddingEfficiency,12:P0}");
            }

            // Query lane: alone, then while 64 callers keep the bulk lane full.
            double[] idle, loaded;
            long bulkDone;
            await using (var batcher = new DynamicBatcher(session, options))
            {
                idle = await MeasureQueriesAsync(batcher, queries, cancellationToken);
                using var stopBulk = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var done = 0L;
                var bulk = Enumerable.Range(0, Callers).Select(c => Task.Run(async () =>
                {
                    for (var i = c; !stopBulk.IsCancellationRequested; i = (i + Callers) % Texts)
                    {
                        await batcher.EmbedAsync(texts[i], EmbeddingLane.Bulk, stopBulk.Token);
                        Interlocked.Increment(ref done);
                    }
                }, stopBulk.Token)).ToArray();
                await Task.Delay(1000, cancellationToken);
                loaded = await MeasureQueriesAsync(batcher, queries, cancellationToken);
                bulkDone = Interlocked.Read(ref done);
                await stopBulk.CancelAsync();
                await Task.WhenAll(bulk.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
            }

            Console.WriteLine();
            Console.WriteLine($"{"latency per request",-36} {"p50 ms",8} {"p99 ms",8}");
            Console.WriteLine($"{"bulk lane, 64 callers (run b)",-36} {Percentile(bulkLatencies, 0.5),8:F1} {Percentile(bulkLatencies, 0.99),8:F1}");
            Console.WriteLine($"{"query lane, idle",-36} {Percentile(idle, 0.5),8:F1} {Percentile(idle, 0.99),8:F1}");
            Console.WriteLine($"{"query lane, bulk lane saturated",-36} {Percentile(loaded, 0.5),8:F1} {Percentile(loaded, 0.99),8:F1}");
            Console.WriteLine($"bulk texts embedded while the queries ran: {bulkDone}");

            var batcherVsRaw = batcherDocsPerSecond / best.DocsPerSecond;
            var loadedVsIdle = Percentile(loaded, 0.99) / Percentile(idle, 0.99);
            Console.WriteLine($"batcher/raw throughput {batcherVsRaw:F2} (target >= 0.95: {(batcherVsRaw >= 0.95 ? "met" : "NOT met")}); " +
                              $"query p99 loaded/idle {loadedVsIdle:F2} (target < 3: {(loadedVsIdle < 3 ? "met" : "NOT met")})");
            Console.WriteLine($"total {total.Elapsed.TotalSeconds:F0} s");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"RESULT inference batcher_vs_raw={batcherVsRaw:F3} query_p99_loaded_vs_idle={loadedVsIdle:F2} raw_docs_per_s={best.DocsPerSecond:F1} raw_best_batch={best.Batch} " +
                $"batcher_docs_per_s={batcherDocsPerSecond:F1} batcher_padding_eff={batcherStats.PaddingEfficiency:F3} query_p99_idle_ms={Percentile(idle, 0.99):F1} query_p99_loaded_ms={Percentile(loaded, 0.99):F1}"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<double[]> MeasureQueriesAsync(DynamicBatcher batcher, string[] queries, CancellationToken cancellationToken)
    {
        var latencies = new double[queries.Length];
        for (var q = 0; q < queries.Length; q++)
        {
            var started = Stopwatch.GetTimestamp();
            await batcher.EmbedAsync(queries[q], EmbeddingLane.Query, cancellationToken);
            latencies[q] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        Array.Sort(latencies);
        return latencies;
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * p))];

    /// <summary>Real against padded tokens over the runs it has seen.</summary>
    private sealed class RunStatistics
    {
        private long _tokens;
        private long _padded;

        public long Tokens => Interlocked.Read(ref _tokens);

        public double PaddingEfficiency => _padded == 0 ? 0 : (double)_tokens / _padded;

        public IReadOnlyList<TextEmbedding> Add(IReadOnlyList<TextEmbedding> run)
        {
            Interlocked.Add(ref _tokens, run.Sum(e => (long)e.TokenCount));
            Interlocked.Add(ref _padded, (long)run.Count * run.Max(e => e.TokenCount));
            return run;
        }
    }
}
