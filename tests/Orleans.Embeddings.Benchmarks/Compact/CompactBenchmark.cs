using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json;
using Npgsql;
using Orleans.Embeddings.Client.Evaluation;
using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Pooling;
using Orleans.Embeddings.Inference.Sessions;
using Orleans.Embeddings.Storage.Naming;
using Orleans.Embeddings.Storage.Search;
using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Benchmarks.Compact;

/// <summary>
/// Compact representations of one document model side by side, on a 20k-document subset of the Debian corpus embedded by
/// the minilm-l6 encoder: fp32, halfvec, binary quantization with an exact rerank, and Matryoshka lengths, each in a
/// version table of its own with its HNSW index. For each: table + index bytes, recall of the exact fp32 top-10,
/// nDCG@10 on the built-in set (a package's synopsis finds the package), and search latency, the tables searched in
/// turn query by query so that drift hits them alike. Then a small static query model distilled from the encoder on the
/// same corpus: query embedding latency against the encoder's, and its searches' nDCG@10 against the encoder queries'.
/// </summary>
internal sealed class CompactBenchmark : IBenchmark
{
    private const int Documents = 20_000;
    private const int TokenLimit = 128;
    private const int K = 10;
    private const int Rounds = 2;
    private const int WideEfSearch = 400;

    // Word embeddings scaled so that the seeded encoder's output keeps a lexical signal (EncoderModelBuilder.LexicalScale):
    // with plain seeded weights every vector points almost the same way (mean cosine 0.98) and nDCG@10 is near 0, so
    // neither the compact representations' nor the query model's figures would mean anything.
    private const float LexicalScale = 20;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        var corpus = await DebianCorpus.LoadAsync(cancellationToken);
        var subset = corpus.OrderBy(p => p.Id, StringComparer.Ordinal).Where((_, i) => i % (corpus.Count / Documents) == 0).Take(Documents).ToArray();
        var queries = EvaluationQueries(corpus, subset);
        var models = Directory.CreateTempSubdirectory("oe-bench-compact-").FullName;
        try
        {
            Console.WriteLine($"compact benchmark: {subset.Length:N0} Debian packages, minilm-l6 (seeded, lexical scale {LexicalScale}, token limit {TokenLimit}), {queries.Length} synopsis queries, k = {K}, {Environment.ProcessorCount} cores");
            var (encoder, _) = new EncoderModelBuilder { Configuration = EncoderConfiguration.MiniLmL6 with { MaxPositions = TokenLimit }, LexicalScale = LexicalScale }
                .Build(corpus.Select(p => p.Content), Path.Combine(models, "minilm"), "minilm-l6-seeded");
            var clock = Stopwatch.StartNew();
            var rate = RawOnnx.Measure(encoder, [.. subset.Select(p => p.Content)], new RawOnnx.Configuration(8, Environment.ProcessorCount, 1), out var documents, byTokens: true);
            Console.WriteLine($"embedded the documents in {clock.Elapsed.TotalSeconds:F0} s ({rate:F0} docs/s)");

            // The query model: a static token table distilled from the encoder on the same corpus.
            clock.Restart();
            QueryModelDistillation distillation;
            using (var encoderSession = new EmbeddingSession(encoder))
            {
                distillation = new QueryModelDistiller().Distill(encoderSession, subset.Select(p => p.Content), Path.Combine(models, "query"), "minilm-l6-query");
            }

            Console.WriteLine(
                $"distilled the query model in {clock.Elapsed.TotalSeconds:F0} s ({distillation.TrainingQueries:N0} spans of {distillation.TextsUsed:N0} texts); held-out cosine to the encoder's query vectors " +
                $"{distillation.Before.MeanCosine:F3} (tokens alone) -> {distillation.After.MeanCosine:F3} (fitted; two different spans: {distillation.HeldOutCosineBetweenSpans:F3})");

            var texts = queries.Select(q => q.Text).ToArray();
            var (encoderQueries, encoderLatency) = EmbedQueries(encoder, texts);
            var (smallQueries, smallLatency) = EmbedQueries(distillation.Folder, texts);

            await using var database = await BenchmarkDatabase.CreateAsync("compact", cancellationToken);
            var catalog = new CollectionCatalog(database.DataSource);
            var dims = encoder.Dimensions;
            var candidates = new (string Name, VersionLayout Layout)[]
            {
                ("fp32", new VersionLayout(dims, VectorElementType.Vector, DistanceMetric.Cosine)),
                ("halfvec", new VersionLayout(dims, VectorElementType.HalfVec, DistanceMetric.Cosine)),
                ("binary x4", new VersionLayout(dims, VectorElementType.HalfVec, DistanceMetric.Cosine) { Quantization = VectorQuantization.Binary, RerankOversample = 4 }),
                ("binary x10", new VersionLayout(dims, VectorElementType.HalfVec, DistanceMetric.Cosine) { Quantization = VectorQuantization.Binary, RerankOversample = 10 }),
                ("binary x40", new VersionLayout(dims, VectorElementType.HalfVec, DistanceMetric.Cosine) { Quantization = VectorQuantization.Binary, RerankOversample = 40 }),
                ("binary 2 bits x4", new VersionLayout(dims, VectorElementType.HalfVec, DistanceMetric.Cosine) { Quantization = VectorQuantization.Binary, RerankOversample = 4, BinaryBits = 2 }),
                ("binary 2 bits x10", new VersionLayout(dims, VectorElementType.HalfVec, DistanceMetric.Cosine) { Quantization = VectorQuantization.Binary, RerankOversample = 10, BinaryBits = 2 }),
                ("binary 2 bits x20", new VersionLayout(dims, VectorElementType.HalfVec, DistanceMetric.Cosine) { Quantization = VectorQuantization.Binary, RerankOversample = 20, BinaryBits = 2 }),
                ("matryoshka 256", new VersionLayout(256, VectorElementType.Vector, DistanceMetric.Cosine)),
                ("matryoshka 128", new VersionLayout(128, VectorElementType.Vector, DistanceMetric.Cosine)),
                ("matryoshka 128 binary x10", new VersionLayout(128, VectorElementType.HalfVec, DistanceMetric.Cosine) { Quantization = VectorQuantization.Binary, RerankOversample = 10 }),
            };

            var tables = new List<(string Name, VersionTable Table, long Bytes, long IndexBytes, double BuildSeconds)>();
            for (var i = 0; i < candidates.Length; i++)
            {
                var (name, layout) = candidates[i];
                var table = await catalog.RegisterVersionAsync("compact", $"v{i}", layout, cancellationToken);
                var build = await LoadAsync(database.DataSource, table, subset, documents, cancellationToken);
                table = (await catalog.GetVersionAsync("compact", $"v{i}", cancellationToken))!; // with its quantization centre
                var (bytes, indexBytes) = await BytesAsync(database.DataSource, table, cancellationToken);
                tables.Add((name, table, bytes, indexBytes, build));
                Console.WriteLine($"  {name}: {table.Representation}, loaded and indexed (HNSW build {build:F1} s)");
            }

            // The exact fp32 top-10 of every encoder query, by brute force over the vectors written.
            var positions = subset.Select((p, i) => (p.Id, i)).ToDictionary(x => x.Id, x => x.i, StringComparer.Ordinal);
            var exact = encoderQueries.Select(q => ExactTop.Of(q, documents, subset, positions)).ToArray();
            var searches = new VectorSearch(database.DataSource);
            var runs = tables.Select(_ => new SearchRun(queries.Length)).ToArray();
            var exactRuns = tables.Select(_ => new SearchRun(queries.Length)).ToArray();
            var wideRuns = tables.Select(_ => new SearchRun(queries.Length, WideEfSearch)).ToArray();
            var smallRun = new SearchRun(queries.Length);
            for (var round = 0; round < Rounds; round++)
            {
                for (var q = 0; q < queries.Length; q++)
                {
                    for (var t = 0; t < tables.Count; t++)
                    {
                        await runs[t].SearchAsync(searches, tables[t].Table, Fit(encoderQueries[q], tables[t].Table.Dimensions), q, round == Rounds - 1, cancellationToken);
                    }

                    await smallRun.SearchAsync(searches, tables[0].Table, smallQueries[q], q, round == Rounds - 1, cancellationToken);
                }
            }

            // What each representation loses by itself, without the index (exact scans), and with a wider HNSW search.
            for (var q = 0; q < queries.Length; q++)
            {
                for (var t = 0; t < tables.Count; t++)
                {
                    await exactRuns[t].SearchAsync(searches, tables[t].Table, Fit(encoderQueries[q], tables[t].Table.Dimensions), q, record: true, cancellationToken, exact: true);
                    await wideRuns[t].SearchAsync(searches, tables[t].Table, Fit(encoderQueries[q], tables[t].Table.Dimensions), q, record: true, cancellationToken);
                }
            }

            var fp32 = tables[0];
            Console.WriteLine();
            Console.WriteLine(
                $"recall@10: of the exact fp32 top-10 (brute force; a hit tied with the 10th counts), by the table's index search at ef_search {VectorSearchRequest.DefaultEfSearch} (default) and {WideEfSearch}; " +
                "exact scan: the table's own exact search, what the representation alone loses; latency at the default");
            Console.WriteLine($"{"representation",-27} {"stored as",-33} {"MB",6} {"index MB",8} {"bytes/fp32",10} {"recall@10",9} {$"ef {WideEfSearch}",7} {"exact scan",10} {"nDCG@10",8} {"p50 ms",7} {"p99 ms",7} {$"p50 ef {WideEfSearch}",10}");
            var rows = new List<(string Name, double Ratio, double Recall, double Ndcg, double P50)>();
            for (var t = 0; t < tables.Count; t++)
            {
                var (name, table, bytes, indexBytes, _) = tables[t];
                var ratio = (double)bytes / fp32.Bytes;
                var recall = runs[t].RecallAgainst(exact);
                var ndcg = runs[t].Ndcg(queries);
                rows.Add((name, ratio, recall, ndcg, runs[t].P50));
                Console.WriteLine(
                    $"{name,-27} {table.Representation,-33} {bytes / 1048576.0,6:F1} {indexBytes / 1048576.0,8:F1} {ratio,10:F3} {recall,9:F4} {wideRuns[t].RecallAgainst(exact),7:F4} " +
                    $"{exactRuns[t].RecallAgainst(exact),10:F4} {ndcg,8:F4} {runs[t].P50,7:F2} {runs[t].P99,7:F2} {wideRuns[t].P50,10:F2}");
            }

            var exactNdcg = Ndcg(exact.Select(e => (IReadOnlyList<string>)e.Ids).ToArray(), queries);
            Console.WriteLine($"{"exact fp32 (brute force)",-27} {"",-33} {"",6} {"",8} {"",10} {1.0,9:F4} {1.0,10:F4} {exactNdcg,8:F4}");

            var smallRecall = smallRun.RecallAgainst(exact);
            var smallNdcg = smallRun.Ndcg(queries);
            Console.WriteLine();
            Console.WriteLine($"{"queries embedded by",-34} {"p50 ms",7} {"p99 ms",7} {"nDCG@10 (fp32 HNSW)",20} {"recall of encoder's exact top-10",33}");
            Console.WriteLine($"{"the encoder (minilm-l6)",-34} {Percentile(encoderLatency, 0.5),7:F3} {Percentile(encoderLatency, 0.99),7:F3} {rows[0].Ndcg,20:F4} {rows[0].Recall,33:F4}");
            Console.WriteLine($"{"the distilled static query model",-34} {Percentile(smallLatency, 0.5),7:F3} {Percentile(smallLatency, 0.99),7:F3} {smallNdcg,20:F4} {smallRecall,33:F4}");

            var half = rows[1];
            var binary = rows[2];
            var speedup = Percentile(encoderLatency, 0.5) / Percentile(smallLatency, 0.5);
            var retained = smallNdcg / rows[0].Ndcg;
            Console.WriteLine();
            Console.WriteLine($"binary x4 + rerank (the default oversample): recall@10 {binary.Recall:F4} (target >= 0.95: {Met(binary.Recall >= 0.95)}), bytes {binary.Ratio:F3} of fp32 (target <= 0.25: {Met(binary.Ratio <= 0.25)}), p50 {binary.P50:F2} ms against fp32 {rows[0].P50:F2} ms ({Met(binary.P50 <= rows[0].P50)})");
            Console.WriteLine($"halfvec: recall@10 {half.Recall:F4} (target >= 0.99: {Met(half.Recall >= 0.99)}), bytes {half.Ratio:F3} of fp32 (target <= 0.55: {Met(half.Ratio <= 0.55)})");
            Console.WriteLine($"query model: {speedup:F1}x faster query embedding at p50 (target >= 10: {Met(speedup >= 10)}), nDCG@10 retained {retained:F3} (target >= 0.9: {Met(retained >= 0.9)})");
            Console.WriteLine($"whole run {total.Elapsed.TotalSeconds:F0} s");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"RESULT compact binary_rerank_recall10={binary.Recall:F4} binary_table_bytes_ratio={binary.Ratio:F3} binary_p50_ms={binary.P50:F2} fp32_p50_ms={rows[0].P50:F2} " +
                $"halfvec_recall10={half.Recall:F4} halfvec_bytes_ratio={half.Ratio:F3} fp32_hnsw_recall10={rows[0].Recall:F4} " +
                $"halfvec_recall10_ef{WideEfSearch}={wideRuns[1].RecallAgainst(exact):F4} fp32_recall10_ef{WideEfSearch}={wideRuns[0].RecallAgainst(exact):F4} halfvec_exact_scan_recall10={exactRuns[1].RecallAgainst(exact):F4} " +
                $"binary_x4_recall10_ef{WideEfSearch}={wideRuns[2].RecallAgainst(exact):F4} binary_x10_recall10_ef{WideEfSearch}={wideRuns[3].RecallAgainst(exact):F4} " +
                $"binary_x10_recall10={rows[3].Recall:F4} binary_x10_p50_ms={rows[3].P50:F2} binary_x40_recall10={rows[4].Recall:F4} binary_x40_p50_ms={rows[4].P50:F2} " +
                $"binary2_x4_recall10={rows[5].Recall:F4} binary2_x4_p50_ms={rows[5].P50:F2} binary2_x10_recall10={rows[6].Recall:F4} binary2_x10_p50_ms={rows[6].P50:F2} " +
                $"binary2_x20_recall10={rows[7].Recall:F4} binary2_x20_p50_ms={rows[7].P50:F2} binary2_bytes_ratio={rows[5].Ratio:F3} " +
                $"matryoshka256_recall10={rows[8].Recall:F4} matryoshka128_recall10={rows[9].Recall:F4} " +
                $"query_model_speedup={speedup:F1} query_model_ndcg_retained={retained:F3} fp32_ndcg10={rows[0].Ndcg:F4} query_model_ndcg10={smallNdcg:F4}"));
        }
        finally
        {
            Directory.Delete(models, recursive: true);
        }
    }

    private static string Met(bool met) => met ? "met" : "NOT met";

    // The built-in set's queries (a package's synopsis, unique and at least three words; every 32nd) whose package is in the subset.
    private static (string Text, string Answer)[] EvaluationQueries(IReadOnlyList<DebianCorpus.Package> corpus, DebianCorpus.Package[] subset)
    {
        var directory = Directory.CreateTempSubdirectory("oe-bench-compact-set-").FullName;
        try
        {
            TitleEvaluationSet.Write(corpus.Select(p => (p.Id, p.Title)), directory);
            var set = EvaluationSet.Load(Path.Combine(directory, "queries.tsv"), Path.Combine(directory, "qrels.tsv"));
            var present = subset.Select(p => p.Id).ToHashSet(StringComparer.Ordinal);
            return [.. set.Judgements
                .Select(j => (Text: set.Queries[j.Key], Answer: j.Value.Keys.Single()))
                .Where(q => present.Contains(q.Answer))];
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    // One query at a time on one thread, as a search embeds it; the first of each text warms up, the second is timed.
    private static (float[][] Vectors, double[] Milliseconds) EmbedQueries(EmbeddingModelFolder folder, string[] texts)
    {
        using var session = new EmbeddingSession(folder, new EmbeddingSessionOptions { IntraOpThreads = 1 });
        var vectors = new float[texts.Length][];
        var milliseconds = new double[texts.Length];
        for (var i = 0; i < texts.Length; i++)
        {
            vectors[i] = session.Embed([texts[i]], EmbeddingPurpose.Query)[0].Vector;
        }

        for (var i = 0; i < texts.Length; i++)
        {
            var start = Stopwatch.GetTimestamp();
            session.Embed([texts[i]], EmbeddingPurpose.Query);
            milliseconds[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        return (vectors, milliseconds);
    }

    private static float[] Fit(float[] vector, int dimensions) => dimensions < vector.Length ? VectorPooling.Truncate(vector, dimensions) : vector;

    private static async Task<double> LoadAsync(NpgsqlDataSource dataSource, VersionTable table, DebianCorpus.Package[] subset, float[][] vectors, CancellationToken cancellationToken)
    {
        var writer = new EmbeddingTableWriter(dataSource);
        foreach (var chunk in Enumerable.Range(0, subset.Length).Chunk(1000))
        {
            await writer.WriteAsync(table, [.. chunk.Select(i => EmbeddingRow.Upsert(
                subset[i].Id, 1, Fit(vectors[i], table.Dimensions), JsonSerializer.Serialize(new { title = subset[i].Title, section = subset[i].Section })))], cancellationToken);
        }

        await using (var vacuum = dataSource.CreateCommand($"VACUUM ANALYZE {table.QuotedTable}"))
        {
            await vacuum.ExecuteNonQueryAsync(cancellationToken);
        }

        var clock = Stopwatch.StartNew();
        await new HnswIndexBuilder(dataSource).BuildAsync(table, cancellationToken: cancellationToken);
        return clock.Elapsed.TotalSeconds;
    }

    // Table + TOAST + every index (the primary key's and HNSW), and the HNSW index alone.
    private static async Task<(long Total, long Index)> BytesAsync(NpgsqlDataSource dataSource, VersionTable table, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT pg_total_relation_size(@table::regclass), pg_relation_size(@index::regclass)");
        command.Parameters.AddWithValue("table", table.QuotedTable);
        command.Parameters.AddWithValue("index", StorageNames.Quote(StorageNames.HnswIndexName(table.TableName)));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>A query's exact fp32 answer: its top-k ids, and every document's score, so that a hit tied with the k-th counts.</summary>
    private sealed record ExactTop(string[] Ids, float Threshold, float[] Scores, Dictionary<string, int> Positions)
    {
        public static ExactTop Of(float[] query, float[][] documents, DebianCorpus.Package[] subset, Dictionary<string, int> positions)
        {
            var scores = new float[documents.Length];
            for (var d = 0; d < documents.Length; d++)
            {
                scores[d] = TensorPrimitives.Dot(query, documents[d]);
            }

            var top = Enumerable.Range(0, documents.Length).OrderByDescending(d => scores[d]).Take(K).ToArray();
            return new ExactTop([.. top.Select(d => subset[d].Id)], scores[top[^1]], scores, positions);
        }

        // Identical descriptions (a library and its -dev package) score the same; any of them is a right answer.
        public int Found(IEnumerable<string> hits) => hits.Count(h => Scores[Positions[h]] >= Threshold - 1e-6f);
    }

    // The built-in set judges one document per query, relevance 1.
    private static double Ndcg(IReadOnlyList<string>[] hits, (string Text, string Answer)[] queries) =>
        hits.Select((ranked, q) => RankingMetrics.Ndcg(ranked, new Dictionary<string, int> { [queries[q].Answer] = 1 }, K)).Average();

    private static double Percentile(double[] values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
    }

    /// <summary>The hits and latencies of one table's searches.</summary>
    private sealed class SearchRun(int queries, int efSearch = VectorSearchRequest.DefaultEfSearch)
    {
        private readonly IReadOnlyList<string>[] _hits = new IReadOnlyList<string>[queries];
        private readonly double[] _milliseconds = new double[queries];

        public double P50 => Percentile(_milliseconds, 0.5);

        public double P99 => Percentile(_milliseconds, 0.99);

        public async Task SearchAsync(VectorSearch search, VersionTable table, float[] query, int q, bool record, CancellationToken cancellationToken, bool exact = false)
        {
            var start = Stopwatch.GetTimestamp();
            var hits = await search.SearchAsync(table, new VectorSearchRequest(query, K) { Exact = exact, EfSearch = efSearch }, cancellationToken);
            if (record)
            {
                _milliseconds[q] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                _hits[q] = [.. hits.Select(h => h.Id)];
            }
        }

        public double RecallAgainst(ExactTop[] exact) =>
            _hits.Select((hits, q) => Math.Min(K, exact[q].Found(hits)) / (double)K).Average();

        public double Ndcg((string Text, string Answer)[] queries) => CompactBenchmark.Ndcg(_hits, queries);
    }
}
