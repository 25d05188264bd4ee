using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;
using Pgvector;

namespace Orleans.Embeddings.Storage.Search;

/// <summary>
/// Chooses a version's ef_search from its own index: queries made from a sample of the version's stored vectors are searched for exactly
/// (index scans off) and through the HNSW index at each ef_search of a ladder, and the smallest ef_search whose recall@10
/// reaches the target is recorded with the version (<see cref="CollectionCatalog.RecordEfSearchTuningAsync"/>), for
/// every search of it that sets none. A fixed default cannot hold: the same HNSW graph (m 16, ef_construction 64) finds
/// 0.87 of the exact top-10 at ef_search 100 on encoder vectors and far less on a static model's.
/// </summary>
/// <remarks>
/// <para>By default each query is the normalised midpoint of two sampled stored vectors: a stored vector itself is a
/// node of the graph, whose top-10 the index finds far more easily than a query's (<see cref="EfSearchTunerOptions.StoredVectorsAsQueries"/>).
/// With stored vectors as queries, a query's own row is a legitimate hit of both searches. A hit counts when its exact score is at least the exact
/// 10th's: many documents share one text (and one vector), and any of them is as right as another.</para>
/// <para>A binary version is tuned the same way, through the same search: its bit index gives <c>k × oversample</c>
/// candidates, reranked on the stored vectors, and the recall is of the reranked top-10 against the exact top-10 of the
/// stored vectors. Its ef_search is at least the candidates (so the ladder starts there). The rerank oversample and the
/// bits per dimension, not ef_search, bound what it can reach: when no ef_search reaches the target, a binary version
/// takes the smallest ef_search within 0.005 of the best recall measured (a larger one only costs time), where an fp32
/// or halfvec version takes the largest of the ladder (its recall still grows with ef_search).</para>
/// </remarks>
public sealed partial class EfSearchTuner(NpgsqlDataSource dataSource, EfSearchTunerOptions? options = null, ILogger<EfSearchTuner>? logger = null)
{
    // Recall that a larger ef_search would not improve on a binary version: within half a hit in 200 of the best.
    private const double PlateauTolerance = 0.005;
    private const double TieTolerance = 1e-6;
    private const int MaxSearchAttempts = 10;

    private readonly EfSearchTunerOptions _options = Validated(options ?? new EfSearchTunerOptions());
    private readonly ILogger _logger = logger ?? NullLogger<EfSearchTuner>.Instance;
    private readonly VectorSearch _search = new(dataSource);
    private readonly CollectionCatalog _catalog = new(dataSource);

    /// <summary>
    /// Measures the version's index at the collection's target recall (else <see cref="EfSearchTunerOptions.TargetRecall"/>)
    /// and records the result with the version. Null, with nothing recorded, when the version has no valid HNSW index or
    /// no live vector yet (its searches keep the default).
    /// </summary>
    public async Task<EfSearchTuning?> TuneAsync(VersionTable table, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (!await new HnswIndexBuilder(dataSource).HasIndexAsync(table, cancellationToken).ConfigureAwait(false))
        {
            LogNoIndex(_logger, table.Collection, table.Version);
            return null;
        }

        // A binary version's index expression holds the centre recorded at its build: search with the table that has it.
        table = await _catalog.GetVersionAsync(table.Collection, table.Version, cancellationToken).ConfigureAwait(false) ?? table;
        var target = (await _catalog.GetSettingsAsync(table.Collection, cancellationToken).ConfigureAwait(false)).TargetRecall ?? _options.TargetRecall;
        var tuning = await MeasureAsync(table, target, cancellationToken).ConfigureAwait(false);
        if (tuning is null)
        {
            LogNoVectors(_logger, table.Collection, table.Version);
            return null;
        }

        await _catalog.RecordEfSearchTuningAsync(table, tuning, cancellationToken).ConfigureAwait(false);
        LogTuned(_logger, table.Collection, table.Version, tuning.EfSearch, tuning.Recall, tuning.TargetRecall, tuning.TargetReached, tuning.RecallAtDefault, tuning.Queries, tuning.Seconds);
        return tuning;
    }

    /// <summary>
    /// Measures recall@10 of the version's index searches against exact ones at each ef_search of the ladder until one
    /// reaches <paramref name="targetRecall"/>, without recording anything. Null when the version holds no live vector.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The target is not above 0 and at most 1.</exception>
    public async Task<EfSearchTuning?> MeasureAsync(VersionTable table, double targetRecall, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (!(targetRecall is > 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(targetRecall), targetRecall, "The target recall must be above 0 and at most 1.");
        }

        var clock = Stopwatch.StartNew();
        var queries = await ExactAnswersAsync(table, cancellationToken).ConfigureAwait(false);
        if (queries.Count == 0)
        {
            return null;
        }

        // What VectorSearch searches the index with: never fewer candidates than it returns, or reranks.
        var candidates = table.Quantization == VectorQuantization.Binary
            ? Math.Min(VectorSearchRequest.MaxK, EfSearchTunerOptions.RecallK * table.RerankOversample)
            : EfSearchTunerOptions.RecallK;
        var measured = new List<EfSearchMeasurement>();
        EfSearchMeasurement? chosen = null;
        foreach (var ef in _options.Ladder.Select(ef => Math.Max(ef, candidates)).Distinct())
        {
            var measurement = await MeasureAtAsync(table, queries, ef, cancellationToken).ConfigureAwait(false);
            measured.Add(measurement);
            if (measurement.Recall >= targetRecall)
            {
                chosen = measurement;
                break;
            }
        }

        var reached = chosen is not null;
        if (chosen is null)
        {
            var best = measured.Max(m => m.Recall);
            chosen = table.Quantization == VectorQuantization.Binary ? measured.First(m => m.Recall >= best - PlateauTolerance) : measured[^1];
        }

        var defaultEf = Math.Max(VectorSearchRequest.DefaultEfSearch, candidates);
        var atDefault = measured.FirstOrDefault(m => m.EfSearch == defaultEf)
            ?? await MeasureAtAsync(table, queries, defaultEf, cancellationToken).ConfigureAwait(false);
        return new EfSearchTuning(chosen.EfSearch, chosen.Recall, targetRecall, reached, atDefault.Recall, queries.Count, clock.Elapsed.TotalSeconds, DateTimeOffset.UtcNow)
        {
            Measurements = measured,
        };
    }

    // The sample: live rows in the order of a hash of their id, so a measurement taken again on the same rows searches
    // for the same vectors. Each with the exact 10th score and the number of exact hits (fewer than 10 in a small table).
    private async Task<List<ExactAnswer>> ExactAnswersAsync(VersionTable table, CancellationToken cancellationToken)
    {
        var vectors = new List<float[]>(_options.SampleSize);
        await using (var sample = dataSource.CreateCommand(
            $"SELECT embedding::vector FROM {table.QuotedTable} WHERE NOT deleted ORDER BY md5(id) LIMIT @n"))
        {
            sample.Parameters.AddWithValue("n", _options.SampleSize);
            await using var reader = await sample.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                vectors.Add(reader.GetFieldValue<Vector>(0).ToArray());
            }
        }

        // A midpoint lies between the data like a query does, not on a node of the graph (see StoredVectorsAsQueries).
        var queries = _options.StoredVectorsAsQueries || vectors.Count < 2
            ? vectors
            : [.. vectors.Select((v, i) => Midpoint(v, vectors[(i + 1) % vectors.Count]))];
        var answers = new List<ExactAnswer>(queries.Count);
        foreach (var vector in queries)
        {
            var hits = await SearchAsync(table, new VectorSearchRequest(vector, EfSearchTunerOptions.RecallK) { Exact = true }, cancellationToken).ConfigureAwait(false);
            if (hits.Count > 0)
            {
                answers.Add(new ExactAnswer(vector, hits[^1].Score, hits.Count)); // a zero vector under cosine has no neighbours
            }
        }

        return answers;
    }

    // A measurement runs hundreds of searches: one whose connection is lost (terminated, the server restarting) is
    // repeated rather than failing the whole measurement, which a rollout's index step would start again from scratch.
    private async Task<IReadOnlyList<VectorSearchHit>> SearchAsync(VersionTable table, VectorSearchRequest request, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await _search.SearchAsync(table, request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (attempt < MaxSearchAttempts && PostgresFailures.IsConnectionLoss(ex))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<EfSearchMeasurement> MeasureAtAsync(VersionTable table, List<ExactAnswer> queries, int efSearch, CancellationToken cancellationToken)
    {
        var recall = 0.0;
        var latencies = new double[queries.Count];
        for (var q = 0; q < queries.Count; q++)
        {
            var started = Stopwatch.GetTimestamp();
            var hits = await SearchAsync(table, new VectorSearchRequest(queries[q].Vector, EfSearchTunerOptions.RecallK) { EfSearch = efSearch }, cancellationToken).ConfigureAwait(false);
            latencies[q] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var found = hits.Count(h => h.Score >= queries[q].TenthScore - TieTolerance);
            recall += Math.Min(found, queries[q].Hits) / (double)queries[q].Hits;
        }

        Array.Sort(latencies);
        return new EfSearchMeasurement(efSearch, recall / queries.Count, latencies[latencies.Length / 2]);
    }

    private static float[] Midpoint(float[] a, float[] b)
    {
        var mid = new float[a.Length];
        double norm = 0;
        for (var i = 0; i < mid.Length; i++)
        {
            mid[i] = a[i] + b[i];
            norm += mid[i] * (double)mid[i];
        }

        if (norm > 0)
        {
            var scale = (float)(1 / Math.Sqrt(norm));
            for (var i = 0; i < mid.Length; i++)
            {
                mid[i] *= scale;
            }
        }

        return mid;
    }

    private static EfSearchTunerOptions Validated(EfSearchTunerOptions options)
    {
        options.Validate();
        return options;
    }

    private sealed record ExactAnswer(float[] Vector, double TenthScore, int Hits);

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information,
        Message = "{Collection}/{Version}: ef_search {EfSearch} gives recall@10 {Recall:F3} (target {Target:F3}, reached {Reached}; {RecallAtDefault:F3} at the default), measured with {Queries} queries in {Seconds:F1} s")]
    private static partial void LogTuned(ILogger logger, string collection, string version, int efSearch, double recall, double target, bool reached, double recallAtDefault, int queries, double seconds);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "{Collection}/{Version}: no HNSW index to tune ef_search on; its searches keep the default")]
    private static partial void LogNoIndex(ILogger logger, string collection, string version);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "{Collection}/{Version}: no live vector to tune ef_search on; its searches keep the default")]
    private static partial void LogNoVectors(ILogger logger, string collection, string version);
}
