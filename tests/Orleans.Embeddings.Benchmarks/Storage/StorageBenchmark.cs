using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Npgsql;
using NpgsqlTypes;
using Orleans.Embeddings.Storage.Search;
using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Testing;
using Pgvector;

namespace Orleans.Embeddings.Benchmarks.Storage;

/// <summary>
/// Guarded batched upsert against raw binary COPY (empty and full table), HNSW build time, and recall@10
/// of HNSW against exact search with query latency at three ef_search settings; then the ef_search EfSearchTuner picks
/// for the index (its cost against the build's, and the recall of the benchmark's own queries at it and at the default).
/// With the option <c>static</c>, the tuning is measured on the Debian corpus embedded by the demo's static model too.
/// </summary>
internal sealed class StorageBenchmark(string? option = null) : IBenchmark
{
    private const int Documents = 100_000;
    private const int Dimensions = 384;
    private const int BatchSize = 1000;
    private const int Queries = 1000;
    private const int K = 10;
    private static readonly int[] s_efSearch = [40, 100, 200];

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        var random = new Random(20261122);

        // Real embeddings have a low intrinsic dimension (neighbourhoods exist); i.i.d. Gaussian 384-d
        // vectors have none: every point is almost equally far from every other, the worst case for any
        // ANN index. The write and recall figures use the first; the second is reported beside them.
        var (vectors, queries) = StructuredData(random);
        var (uniformVectors, uniformQueries) = UniformData(random);

        await using var database = await BenchmarkDatabase.CreateAsync("storage", cancellationToken);
        var table = await new CollectionCatalog(database.DataSource).RegisterVersionAsync("bench", "v1", Dimensions, VectorElementType.Vector, DistanceMetric.Cosine, cancellationToken);
        var writer = new EmbeddingTableWriter(database.DataSource);

        Console.WriteLine($"storage benchmark: {Documents:N0} documents x {Dimensions} dimensions, batches of {BatchSize}, {Queries} queries, k={K}");
        var copyEmpty = await TimeAsync(() => RawCopyAsync(database.DataSource, "raw_copy_a", vectors, cancellationToken));
        var guardedEmpty = await TimeAsync(() => GuardedAsync(writer, table, vectors, seq: 1, cancellationToken));
        var copyAgain = await TimeAsync(() => RawCopyAsync(database.DataSource, "raw_copy_b", vectors, cancellationToken));
        var guardedFull = await TimeAsync(() => GuardedAsync(writer, table, vectors, seq: 2, cancellationToken));
        var copySeconds = (copyEmpty + copyAgain) / 2;

        await using (var analyze = database.DataSource.CreateCommand($"VACUUM ANALYZE {table.QuotedTable}"))
        {
            await analyze.ExecuteNonQueryAsync(cancellationToken);
        }

        var build = await TimeAsync(() => new HnswIndexBuilder(database.DataSource).BuildAsync(table, cancellationToken: cancellationToken));

        var rows = await MeasureRecallAsync(database, table, vectors, queries, cancellationToken);
        var tuned = await MeasureTuningAsync(database, "structured", table, build, ExactNeighbours(vectors, queries), queries, cancellationToken);

        // The same measurement on structureless data, in a second version table.
        var uniformTable = await new CollectionCatalog(database.DataSource).RegisterVersionAsync("bench", "uniform", Dimensions, VectorElementType.Vector, DistanceMetric.Cosine, cancellationToken);
        await GuardedAsync(writer, uniformTable, uniformVectors, seq: 1, cancellationToken);
        var uniformBuild = await TimeAsync(() => new HnswIndexBuilder(database.DataSource).BuildAsync(uniformTable, cancellationToken: cancellationToken));
        var uniformRows = await MeasureRecallAsync(database, uniformTable, uniformVectors, uniformQueries, cancellationToken);

        var ratioEmpty = copySeconds / guardedEmpty;
        var ratioFull = copySeconds / guardedFull;
        Console.WriteLine();
        Console.WriteLine($"{"write",-44} {"seconds",8} {"rows/s",10}");
        Console.WriteLine($"{"raw binary COPY, unindexed (a)",-44} {copyEmpty,8:F2} {Documents / copyEmpty,10:N0}");
        Console.WriteLine($"{"raw binary COPY, unindexed (a, again)",-44} {copyAgain,8:F2} {Documents / copyAgain,10:N0}");
        Console.WriteLine($"{"guarded upsert, empty table (b)",-44} {guardedEmpty,8:F2} {Documents / guardedEmpty,10:N0}");
        Console.WriteLine($"{"guarded upsert, full table, all replaced (b)",-44} {guardedFull,8:F2} {Documents / guardedFull,10:N0}");
        Console.WriteLine($"guarded/copy throughput: empty {ratioEmpty:F2} (target >= 0.6: {(ratioEmpty >= 0.6 ? "met" : "NOT met")}), full {ratioFull:F2}");
        Console.WriteLine($"HNSW build (m {HnswIndexOptions.DefaultM}, ef_construction {HnswIndexOptions.DefaultEfConstruction}, {HnswIndexOptions.DefaultMaintenanceWorkMemory}, {HnswIndexOptions.DefaultMaxParallelMaintenanceWorkers} workers): {build:F1} s");
        Console.WriteLine();
        Console.WriteLine($"{"data",-38} {"ef_search",9} {"recall@10",10} {"p50 ms",8} {"p99 ms",8}");
        foreach (var (name, set) in new[] { ("structured (intrinsic dimension 24)", rows), ("uniform i.i.d. Gaussian (worst case)", uniformRows) })
        {
            foreach (var row in set)
            {
                Console.WriteLine($"{name,-38} {row.Ef,9} {row.Recall,10:F4} {row.P50,8:F2} {row.P99,8:F2}");
            }
        }

        Console.WriteLine($"HNSW build on the uniform data: {uniformBuild:F1} s");
        var sources = new List<TuningResult> { tuned };
        if (option == "static")
        {
            sources.Add(await StaticModelTuningAsync(database, cancellationToken));
        }

        PrintTunings(sources);

        var byDefault = rows.Single(r => r.Ef == VectorSearchRequest.DefaultEfSearch);
        var recallDefault = byDefault.Recall;
        Console.WriteLine($"recall@10 at the default ef_search {byDefault.Ef}: {recallDefault:F4} (target >= 0.95: {(recallDefault >= 0.95 ? "met" : "NOT met")})");
        Console.WriteLine($"total {total.Elapsed.TotalSeconds:F0} s");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT storage guarded_vs_copy={ratioEmpty:F3} guarded_vs_copy_full={ratioFull:F3} hnsw_build_s={build:F1} " +
            $"default_ef_search={byDefault.Ef} recall10_default={recallDefault:F4} recall10_ef40={rows[0].Recall:F4} recall10_ef200={rows[2].Recall:F4} " +
            $"p50_ms_default={byDefault.P50:F2} p99_ms_default={byDefault.P99:F2} p50_ms_ef40={rows[0].P50:F2} " +
            $"recall10_default_uniform={uniformRows.Single(r => r.Ef == byDefault.Ef).Recall:F4} recall10_ef200_uniform={uniformRows[2].Recall:F4} ") +
            string.Join(' ', sources.Select(r => r.ResultKeys())));
    }

    /// <summary>
    /// What the tuner picks for one vector source's index (its HNSW build taking <paramref name="buildSeconds"/>), and the
    /// recall@10 of <paramref name="queries"/> (not stored vectors, unlike the tuner's sample) against
    /// <paramref name="truth"/> at the tuned ef_search and at the default. A second source (e.g. a trained model's
    /// vectors) is one more call of this.
    /// </summary>
    private static async Task<TuningResult> MeasureTuningAsync(
        BenchmarkDatabase database, string source, VersionTable table, double buildSeconds, HashSet<string>[] truth, float[][] queries, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var tuning = await new EfSearchTuner(database.DataSource).TuneAsync(table, cancellationToken)
            ?? throw new InvalidOperationException($"the {source} table has no index or no vectors to tune");
        var tuneSeconds = clock.Elapsed.TotalSeconds;
        var search = new VectorSearch(database.DataSource);
        async Task<double> RecallAsync(int efSearch)
        {
            double found = 0;
            for (var q = 0; q < queries.Length; q++)
            {
                var hits = await search.SearchAsync(table, new VectorSearchRequest(queries[q], K) { EfSearch = efSearch }, cancellationToken);
                found += hits.Count(h => truth[q].Contains(h.Id));
            }

            return found / (queries.Length * K);
        }

        return new TuningResult(source, buildSeconds, tuneSeconds, tuning, await RecallAsync(tuning.EfSearch), await RecallAsync(VectorSearchRequest.DefaultEfSearch), queries.Length);
    }

    private static void PrintTunings(List<TuningResult> results)
    {
        Console.WriteLine();
        Console.WriteLine($"ef_search tuning (target {EfSearchTunerOptions.DefaultTargetRecall}, {EfSearchTunerOptions.DefaultSampleSize} queries, midpoints of two stored vectors; recall of the benchmark's own queries against brute force):");
        Console.WriteLine($"{"vectors",-12} {"build s",8} {"tune s",7} {"ef tuned",8} {"sample recall",13} {"at ef 100",9} {"queries recall",14} {"at ef 100",9} ladder");
        foreach (var r in results)
        {
            Console.WriteLine(
                $"{r.Source,-12} {r.BuildSeconds,8:F1} {r.TuneSeconds,7:F1} {r.Tuning.EfSearch,8} {r.Tuning.Recall,13:F4} {r.Tuning.RecallAtDefault,9:F4} {r.RecallTuned,14:F4} {r.RecallDefault,9:F4} " +
                string.Join(", ", r.Tuning.Measurements.Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.EfSearch}: {m.Recall:F3} ({m.MedianMilliseconds:F1} ms)"))));
        }
    }

    /// <summary>The Debian corpus embedded by a static model like the demo's (256 dimensions), its synopses as queries.</summary>
    private static async Task<TuningResult> StaticModelTuningAsync(BenchmarkDatabase database, CancellationToken cancellationToken)
    {
        var corpus = await DebianCorpus.LoadAsync(cancellationToken);
        var models = Directory.CreateTempSubdirectory("oe-bench-storage-").FullName;
        try
        {
            var model = new Orleans.Embeddings.Inference.Builders.StaticEmbeddingModelBuilder { Dimensions = 256 }
                .Build(corpus.Select(p => p.Content), Path.Combine(models, "static"), "debian-static");
            using var session = new Orleans.Embeddings.Inference.Sessions.EmbeddingSession(model);
            var vectors = corpus.Chunk(256).SelectMany(c => session.Embed([.. c.Select(p => p.Content)], Orleans.Embeddings.Inference.Models.EmbeddingPurpose.Document)).Select(e => e.Vector.ToArray()).ToArray();
            var picked = corpus.Select((p, i) => (p, i)).Where(x => x.i % 64 == 0).ToArray();
            var queries = session.Embed([.. picked.Select(x => x.p.Title)], Orleans.Embeddings.Inference.Models.EmbeddingPurpose.Query).Select(e => e.Vector.ToArray()).ToArray();
            var table = await new CollectionCatalog(database.DataSource).RegisterVersionAsync("bench", "static", 256, VectorElementType.Vector, DistanceMetric.Cosine, cancellationToken);
            var writer = new EmbeddingTableWriter(database.DataSource);
            for (var start = 0; start < vectors.Length; start += BatchSize)
            {
                await writer.WriteAsync(table, [.. Enumerable.Range(start, Math.Min(BatchSize, vectors.Length - start)).Select(i => EmbeddingRow.Upsert(corpus[i].Id, 1, vectors[i], "{}"))], cancellationToken);
            }

            var build = await TimeAsync(() => new HnswIndexBuilder(database.DataSource).BuildAsync(table, cancellationToken: cancellationToken));
            // Many packages share one description: a hit tied with the exact 10th counts, as the tuner counts it.
            var truth = ExactNeighbours(vectors, queries, tiesCount: true).Select(ids => ids.Select(i => corpus[int.Parse(i, CultureInfo.InvariantCulture)].Id).ToHashSet()).ToArray();
            return await MeasureTuningAsync(database, "static-256", table, build, truth, queries, cancellationToken);
        }
        finally
        {
            Directory.Delete(models, recursive: true);
        }
    }

    private sealed record TuningResult(string Source, double BuildSeconds, double TuneSeconds, EfSearchTuning Tuning, double RecallTuned, double RecallDefault, int Queries)
    {
        // The structured vectors keep the plain key names; another source's keys carry its name.
        public string ResultKeys()
        {
            var suffix = Source == "structured" ? "" : "_" + Source.Replace('-', '_');
            return string.Create(CultureInfo.InvariantCulture,
                $"ef_search_tuned{suffix}={Tuning.EfSearch} recall10_tuned{suffix}={RecallTuned:F4} recall10_default_ef{suffix}={RecallDefault:F4} " +
                $"tune_recall10_sample{suffix}={Tuning.Recall:F4} tune_s{suffix}={TuneSeconds:F1}") +
                (suffix.Length == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $" hnsw_build_s{suffix}={BuildSeconds:F1}")); // the structured build is hnsw_build_s already
        }
    }

    private static async Task<List<(int Ef, double Recall, double P50, double P99)>> MeasureRecallAsync(
        BenchmarkDatabase database, VersionTable table, float[][] vectors, float[][] queries, CancellationToken cancellationToken)
    {
        var truth = ExactNeighbours(vectors, queries);
        var search = new VectorSearch(database.DataSource);
        var rows = new List<(int Ef, double Recall, double P50, double P99)>();
        foreach (var ef in s_efSearch)
        {
            var latencies = new double[Queries];
            double found = 0;
            for (var q = 0; q < Queries; q++)
            {
                var started = Stopwatch.GetTimestamp();
                var hits = await search.SearchAsync(table, new VectorSearchRequest(queries[q], K) { EfSearch = ef }, cancellationToken);
                latencies[q] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                found += hits.Count(h => truth[q].Contains(h.Id));
            }

            Array.Sort(latencies);
            rows.Add((ef, found / (Queries * K), latencies[Queries / 2], latencies[(int)(Queries * 0.99)]));
        }

        return rows;
    }

    /// <summary>
    /// Unit vectors on a 24-dimensional subspace (a seeded random projection of uniform latents) with
    /// a little full-dimensional noise; queries are fresh points drawn the same way, not stored ones.
    /// </summary>
    private static (float[][] Vectors, float[][] Queries) StructuredData(Random random)
    {
        const int latent = 24;
        var projection = new float[latent][];
        for (var l = 0; l < latent; l++)
        {
            projection[l] = RandomVectors.Unit(random, Dimensions);
        }

        float[] Draw()
        {
            var point = new float[Dimensions];
            for (var l = 0; l < latent; l++)
            {
                var weight = (float)(random.NextDouble() * 2 - 1);
                TensorPrimitives.MultiplyAdd(projection[l], weight, point, point);
            }

            Normalize(point);
            TensorPrimitives.MultiplyAdd(RandomVectors.Unit(random, Dimensions), 0.1f, point, point);
            Normalize(point);
            return point;
        }

        var vectors = new float[Documents][];
        for (var i = 0; i < Documents; i++)
        {
            vectors[i] = Draw();
        }

        var queries = new float[Queries][];
        for (var q = 0; q < Queries; q++)
        {
            queries[q] = Draw();
        }

        return (vectors, queries);
    }

    private static (float[][] Vectors, float[][] Queries) UniformData(Random random)
    {
        var vectors = new float[Documents][];
        for (var i = 0; i < Documents; i++)
        {
            vectors[i] = RandomVectors.Unit(random, Dimensions);
        }

        var queries = new float[Queries][];
        for (var q = 0; q < Queries; q++)
        {
            queries[q] = RandomVectors.Unit(random, Dimensions);
        }

        return (vectors, queries);
    }

    private static void Normalize(float[] vector) => TensorPrimitives.Divide(vector, MathF.Sqrt(TensorPrimitives.Dot(vector, vector)), vector);

    private static async Task<double> TimeAsync(Func<Task> action)
    {
        var stopwatch = Stopwatch.StartNew();
        await action();
        return stopwatch.Elapsed.TotalSeconds;
    }

    private static async Task GuardedAsync(EmbeddingTableWriter writer, VersionTable table, float[][] vectors, long seq, CancellationToken cancellationToken)
    {
        for (var start = 0; start < vectors.Length; start += BatchSize)
        {
            var batch = new EmbeddingRow[Math.Min(BatchSize, vectors.Length - start)];
            for (var i = 0; i < batch.Length; i++)
            {
                batch[i] = EmbeddingRow.Upsert((start + i).ToString(CultureInfo.InvariantCulture), seq, vectors[start + i], """{"section":"bench"}""");
            }

            await writer.WriteAsync(table, batch, cancellationToken);
        }
    }

    /// <summary>The floor: plain binary COPY into an unindexed table of the same shape, one transaction per batch.</summary>
    private static async Task RawCopyAsync(NpgsqlDataSource dataSource, string tableName, float[][] vectors, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var create = new NpgsqlCommand(
            $"CREATE TABLE {tableName} (id text, seq bigint NOT NULL, deleted boolean NOT NULL, embedding vector({Dimensions}), metadata jsonb NOT NULL)", connection))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        for (var start = 0; start < vectors.Length; start += BatchSize)
        {
            await using var copy = await connection.BeginBinaryImportAsync(
                $"COPY {tableName} (id, seq, deleted, embedding, metadata) FROM STDIN (FORMAT BINARY)", cancellationToken);
            for (var i = start; i < Math.Min(start + BatchSize, vectors.Length); i++)
            {
                await copy.StartRowAsync(cancellationToken);
                await copy.WriteAsync(i.ToString(CultureInfo.InvariantCulture), NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(1L, NpgsqlDbType.Bigint, cancellationToken);
                await copy.WriteAsync(false, NpgsqlDbType.Boolean, cancellationToken);
                await copy.WriteAsync(new Vector(vectors[i]), "vector", cancellationToken);
                await copy.WriteAsync("""{"section":"bench"}""", NpgsqlDbType.Jsonb, cancellationToken);
            }

            await copy.CompleteAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Brute-force top-k by dot product (the vectors are unit length, so this is cosine), as row ids. With
    /// <paramref name="tiesCount"/>, every row whose score ties the k-th (within 1e-6) is in the set too.
    /// </summary>
    private static HashSet<string>[] ExactNeighbours(float[][] vectors, float[][] queries, bool tiesCount = false)
    {
        var truth = new HashSet<string>[queries.Length];
        Parallel.For(0, queries.Length, q =>
        {
            var best = new PriorityQueue<int, float>();
            for (var i = 0; i < vectors.Length; i++)
            {
                var score = TensorPrimitives.Dot(queries[q], vectors[i]);
                if (best.Count < K)
                {
                    best.Enqueue(i, score);
                }
                else if (best.TryPeek(out _, out var worst) && score > worst)
                {
                    best.EnqueueDequeue(i, score);
                }
            }

            var set = best.UnorderedItems.Select(item => item.Element.ToString(CultureInfo.InvariantCulture)).ToHashSet();
            if (tiesCount && best.TryPeek(out _, out var kth))
            {
                for (var i = 0; i < vectors.Length; i++)
                {
                    if (TensorPrimitives.Dot(queries[q], vectors[i]) >= kth - 1e-6f)
                    {
                        set.Add(i.ToString(CultureInfo.InvariantCulture));
                    }
                }
            }

            truth[q] = set;
        });
        return truth;
    }
}
