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
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Benchmarks.Compact;

/// <summary>
/// Compact representations of one trained document model side by side (all-MiniLM-L6-v2 by default, arctic-embed-xs on
/// request, the seeded minilm-l6 encoder for comparison with earlier figures), on a subset of the Debian corpus: fp32,
/// halfvec, binary quantization (1 and 2 bits per dimension) with an exact rerank at oversamples x2-x40, and Matryoshka
/// lengths, each stored in a version table of its own with its HNSW index. For each: table + index bytes, recall of the
/// exact fp32 top-10, nDCG@10 on the built-in set (a package's synopsis finds the package), and search latency, the
/// tables searched in turn query by query so that drift hits them alike. Then a small static query model distilled
/// from the document model on the same corpus: query embedding latency against the model's, and its searches' nDCG@10
/// against the model's own queries'.
/// </summary>
internal sealed class CompactBenchmark(string? model) : IBenchmark
{
    private const int Documents = 12_000;
    private const int SeededTokenLimit = 128;
    private const int K = 10;
    private const int Rounds = 2;
    private const int WideEfSearch = 400;
    private static readonly int[] s_oversamples = [2, 4, 10, 20, 40];

    // Word embeddings scaled so that the seeded encoder's output keeps a lexical signal (EncoderModelBuilder.LexicalScale):
    // with plain seeded weights every vector points almost the same way (mean cosine 0.98) and nDCG@10 is near 0.
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
            var name = model ?? "minilm";
            var encoder = name == "seeded"
                ? new EncoderModelBuilder { Configuration = EncoderConfiguration.MiniLmL6 with { MaxPositions = SeededTokenLimit }, LexicalScale = LexicalScale }
                    .Build(corpus.Select(p => p.Content), Path.Combine(models, "minilm"), "minilm-l6-seeded").Folder
                : await TrainedModels.FolderAsync(name);
            Console.WriteLine($"compact benchmark: {subset.Length:N0} Debian packages, document model {encoder.Name} ({encoder.Dimensions} dimensions, token limit {encoder.MaxTokens}), {queries.Length} synopsis queries, k = {K}, {Environment.ProcessorCount} cores");
            var clock = Stopwatch.StartNew();
            var rate = RawOnnx.Measure(encoder, [.. subset.Select(p => p.Content)], new RawOnnx.Configuration(8, Environment.ProcessorCount, 1), out var documents, byTokens: true);
            Console.WriteLine($"embedded the documents in {clock.Elapsed.TotalSeconds:F0} s ({rate:F0} docs/s)");

            // The query model: a static token table distilled from the document model on the same corpus.
            clock.Restart();
            QueryModelDistillation distillation;
            using (var encoderSession = new EmbeddingSession(encoder))
            {
                distillation = new QueryModelDistiller().Distill(encoderSession, subset.Select(p => p.Content), Path.Combine(models, "query"), $"{name}-query");
            }

            Console.WriteLine(
                $"distilled the query model in {clock.Elapsed.TotalSeconds:F0} s ({distillation.TrainingQueries:N0} spans of {distillation.TextsUsed:N0} texts); held-out cosine to the model's query vectors " +
                $"{distillation.Before.MeanCosine:F3} (tokens alone) -> {distillation.After.MeanCosine:F3} (fitted; two different spans: {distillation.HeldOutCosineBetweenSpans:F3})");

            var texts = queries.Select(q => q.Text).ToArray();
            var (encoderQueries, encoderLatency) = EmbedQueries(encoder, texts);
            var (smallQueries, smallLatency) = EmbedQueries(distillation.Folder, texts);

            await using var database = await BenchmarkDatabase.CreateAsync("compact", cancellationToken);
            var catalog = new CollectionCatalog(database.DataSource);
            var dims = encoder.Dimensions;
            var layouts = new (string Name, VersionLayout Layout)[]
            {
                ("fp32", new VersionLayout(dims, VectorElementType.Vector, DistanceMetric.Cosine)),
                ("halfvec", new VersionLayout(dims, VectorElementType.HalfVec, DistanceMetric.Cosine)),
                ("binary", new VersionLayout(dims, VectorElementType.HalfVec, DistanceMetric.Cosine) { Quantization = VectorQuantization.Binary }),
                ("binary 2 bits", new VersionLayout(dims, VectorElementType.HalfVec, DistanceMetric.Cosine) { Quantization = VectorQuantization.Binary, BinaryBits = 2 }),
                ("matryoshka 256", new VersionLayout(256, VectorElementType.Vector, DistanceMetric.Cosine)),
                ("matryoshka 128", new VersionLayout(128, VectorElementType.Vector, DistanceMetric.Cosine)),
                ("matryoshka 64", new VersionLayout(64, VectorElementType.Vector, DistanceMetric.Cosine)),
            };

            var stored = new List<(string Name, VersionTable Table, long Bytes, long IndexBytes, double BuildSeconds)>();
            for (var i = 0; i < layouts.Length; i++)
            {
                var (layoutName, layout) = layouts[i];
                var table = await catalog.RegisterVersionAsync("compact", $"v{i}", layout, cancellationToken);
                var build = await LoadAsync(database.DataSource, table, subset, documents, cancellationToken);
                table = (await catalog.GetVersionAsync("compact", $"v{i}", cancellationToken))!; // with its quantization centre
                var (bytes, indexBytes) = await BytesAsync(database.DataSource, table, cancellationToken);
                stored.Add((layoutName, table, bytes, indexBytes, build));
                Console.WriteLine($"  {layoutName}: {table.Representation}, loaded and indexed (HNSW build {build:F1} s)");
            }

            // The ef_search a rollout would tune for the fp32 version (its own vectors as queries, target 0.95), then checked
            // on the real queries below.
            var tuning = (await new EfSearchTuner(database.DataSource).TuneAsync(stored[0].Table, cancellationToken))!;
            Console.WriteLine($"  fp32: tuned ef_search {tuning.EfSearch} (recall@10 {tuning.Recall:F4} of {tuning.Queries} own vectors, {tuning.RecallAtDefault:F4} at ef {VectorSearchRequest.DefaultEfSearch}) in {tuning.Seconds:F1} s, against {stored[0].BuildSeconds:F1} s of HNSW build");

            // What is searched: each table, and the binary tables at every oversample (a search-time setting of the same rows).
            var tables = new List<(string Name, VersionTable Table, long Bytes, long IndexBytes)>();
            foreach (var (tableName, table, bytes, indexBytes, _) in stored)
            {
                if (table.Quantization == VectorQuantization.Binary)
                {
                    tables.AddRange(s_oversamples.Select(x => ($"{tableName} x{x}", table with { RerankOversample = x }, bytes, indexBytes)));
                }
                else
                {
                    tables.Add((tableName, table, bytes, indexBytes));
                }
            }

            // The exact fp32 top-10 of every model query, by brute force over the vectors written.
            var positions = subset.Select((p, i) => (p.Id, i)).ToDictionary(x => x.Id, x => x.i, StringComparer.Ordinal);
            var exact = encoderQueries.Select(q => ExactTop.Of(q, documents, subset, positions)).ToArray();
            var searches = new VectorSearch(database.DataSource);
            var runs = tables.Select(_ => new SearchRun(queries.Length)).ToArray();
            var exactRuns = tables.Select(_ => new SearchRun(queries.Length)).ToArray();
            var wideRuns = tables.Select(_ => new SearchRun(queries.Length, WideEfSearch)).ToArray();
            var smallRun = new SearchRun(queries.Length);
            var tunedRun = new SearchRun(queries.Length, tuning.EfSearch);
            for (var round = 0; round < Rounds; round++)
            {
                for (var q = 0; q < queries.Length; q++)
                {
                    for (var t = 0; t < tables.Count; t++)
                    {
                        await runs[t].SearchAsync(searches, tables[t].Table, Fit(encoderQueries[q], tables[t].Table.Dimensions), q, round == Rounds - 1, cancellationToken);
                    }

                    await smallRun.SearchAsync(searches, tables[0].Table, smallQueries[q], q, round == Rounds - 1, cancellationToken);
                    await tunedRun.SearchAsync(searches, tables[0].Table, encoderQueries[q], q, round == Rounds - 1, cancellationToken);
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
            Console.WriteLine($"{"representation",-22} {"stored as",-33} {"MB",6} {"index MB",8} {"bytes/fp32",10} {"recall@10",9} {$"ef {WideEfSearch}",7} {"exact scan",10} {"nDCG@10",8} {"p50 ms",7} {"p99 ms",7} {$"p50 ef {WideEfSearch}",10}");
            var rows = new Dictionary<string, (double Ratio, double IndexRatio, double Recall, double WideRecall, double ExactScanRecall, double Ndcg, double P50)>(StringComparer.Ordinal);
            for (var t = 0; t < tables.Count; t++)
            {
                var (tableName, table, bytes, indexBytes) = tables[t];
                var row = ((double)bytes / fp32.Bytes, (double)indexBytes / fp32.IndexBytes, runs[t].RecallAgainst(exact), wideRuns[t].RecallAgainst(exact), exactRuns[t].RecallAgainst(exact), runs[t].Ndcg(queries), runs[t].P50);
                rows[tableName] = row;
                Console.WriteLine(
                    $"{tableName,-22} {table.Representation,-33} {bytes / 1048576.0,6:F1} {indexBytes / 1048576.0,8:F1} {row.Item1,10:F3} {row.Item3,9:F4} {row.Item4,7:F4} " +
                    $"{row.Item5,10:F4} {row.Item6,8:F4} {runs[t].P50,7:F2} {runs[t].P99,7:F2} {wideRuns[t].P50,10:F2}");
            }

            var exactNdcg = Ndcg(exact.Select(e => (IReadOnlyList<string>)e.Ids).ToArray(), queries);
            Console.WriteLine($"{"exact fp32 (brute force)",-22} {"",-33} {"",6} {"",8} {"",10} {1.0,9:F4} {"",7} {1.0,10:F4} {exactNdcg,8:F4}");

            var smallRecall = smallRun.RecallAgainst(exact);
            var smallNdcg = smallRun.Ndcg(queries);
            Console.WriteLine();
            Console.WriteLine($"{"queries embedded by",-34} {"p50 ms",7} {"p99 ms",7} {"nDCG@10 (fp32 HNSW)",20} {"recall of the model's exact top-10",35}");
            Console.WriteLine($"{$"the document model ({name})",-34} {Percentile(encoderLatency, 0.5),7:F3} {Percentile(encoderLatency, 0.99),7:F3} {rows["fp32"].Ndcg,20:F4} {rows["fp32"].Recall,35:F4}");
            Console.WriteLine($"{"the distilled static query model",-34} {Percentile(smallLatency, 0.5),7:F3} {Percentile(smallLatency, 0.99),7:F3} {smallNdcg,20:F4} {smallRecall,35:F4}");

            var defaultBinary = $"binary x{VersionLayout.DefaultRerankOversample}";
            var (full, half, binary) = (rows["fp32"], rows["halfvec"], rows[defaultBinary]);
            var speedup = Percentile(encoderLatency, 0.5) / Percentile(smallLatency, 0.5);
            var retained = smallNdcg / full.Ndcg;
            Console.WriteLine();
            Console.WriteLine($"{defaultBinary} + rerank (the default oversample): recall@10 {binary.Recall:F4} (target >= 0.95: {Met(binary.Recall >= 0.95)}), bytes {binary.Ratio:F3} of fp32 table + index (target <= 0.36: {Met(binary.Ratio <= 0.36)}), bit index {binary.IndexRatio:F3} of fp32's HNSW (target <= 0.15: {Met(binary.IndexRatio <= 0.15)}), p50 {binary.P50:F2} ms against fp32 {full.P50:F2} ms");
            Console.WriteLine($"halfvec: recall@10 {half.Recall:F4} against fp32's own index {full.Recall:F4} at the same ef_search (target within 0.005: {Met(half.Recall >= full.Recall - 0.005)}), bytes {half.Ratio:F3} of fp32 (target <= 0.55: {Met(half.Ratio <= 0.55)})");
            var tunedRecall = tunedRun.RecallAgainst(exact);
            Console.WriteLine($"fp32 at its tuned ef_search {tuning.EfSearch}: recall@10 of the real queries {tunedRecall:F4} (target >= 0.95: {Met(tunedRecall >= 0.95)}), p50 {tunedRun.P50:F2} ms; tuning took {tuning.Seconds:F1} s beside {stored[0].BuildSeconds:F1} s of index build");
            Console.WriteLine($"query model: {speedup:F1}x faster query embedding at p50 (target >= 10: {Met(speedup >= 10)}), nDCG@10 retained {retained:F3} (target >= 0.9: {Met(retained >= 0.9)})");
            Console.WriteLine($"whole run {total.Elapsed.TotalSeconds:F0} s");
            var curve = string.Join(' ', rows.Where(r => r.Key.StartsWith("binary", StringComparison.Ordinal)).Select(r =>
                string.Create(CultureInfo.InvariantCulture, $"{r.Key.Replace("binary 2 bits", "binary2", StringComparison.Ordinal).Replace(' ', '_')}_recall10={r.Value.Recall:F4}")));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"RESULT compact model={name} binary_rerank_recall10={binary.Recall:F4} binary_default_oversample={VersionLayout.DefaultRerankOversample} binary_table_bytes_ratio={binary.Ratio:F3} binary_index_bytes_ratio={binary.IndexRatio:F3} " +
                $"binary_p50_ms={binary.P50:F2} fp32_p50_ms={full.P50:F2} halfvec_recall10={half.Recall:F4} halfvec_bytes_ratio={half.Ratio:F3} fp32_hnsw_recall10={full.Recall:F4} " +
                $"halfvec_recall10_ef{WideEfSearch}={half.WideRecall:F4} fp32_recall10_ef{WideEfSearch}={full.WideRecall:F4} halfvec_exact_scan_recall10={half.ExactScanRecall:F4} " +
                $"{curve} binary2_bytes_ratio={rows["binary 2 bits x4"].Ratio:F3} " +
                $"matryoshka256_recall10={rows["matryoshka 256"].Recall:F4} matryoshka128_recall10={rows["matryoshka 128"].Recall:F4} matryoshka64_recall10={rows["matryoshka 64"].Recall:F4} " +
                $"matryoshka256_ndcg10={rows["matryoshka 256"].Ndcg:F4} matryoshka128_ndcg10={rows["matryoshka 128"].Ndcg:F4} matryoshka64_ndcg10={rows["matryoshka 64"].Ndcg:F4} " +
                $"recall10_tuned={tunedRecall:F4} ef_search_tuned={tuning.EfSearch} tuned_own_vectors_recall10={tuning.Recall:F4} tuning_s={tuning.Seconds:F1} hnsw_build_s={stored[0].BuildSeconds:F1} " +
                $"query_model_speedup={speedup:F1} query_model_ndcg_retained={retained:F3} fp32_ndcg10={full.Ndcg:F4} query_model_ndcg10={smallNdcg:F4}"));
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
