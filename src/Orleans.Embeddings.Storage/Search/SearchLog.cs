using Npgsql;
using NpgsqlTypes;

namespace Orleans.Embeddings.Storage.Search;

/// <summary>One search as the log keeps it.</summary>
/// <param name="QueryId">The search's id (what feedback names).</param>
/// <param name="Collection">The collection.</param>
/// <param name="Version">The version that answered it.</param>
/// <param name="At">When it ran.</param>
/// <param name="LatencyMilliseconds">Embedding and k-NN, inside the silo.</param>
/// <param name="Hits">The hits' ids, closest first.</param>
/// <param name="Failed">Whether it failed after its version was chosen.</param>
/// <param name="ShadowOf">For a shadow run: the search it shadowed.</param>
/// <param name="Overlap">For a shadow run: overlap@k with the primary's hits.</param>
/// <param name="Rbo">For a shadow run: rank-biased overlap with the primary's hits.</param>
public sealed record SearchLogEntry(
    Guid QueryId, string Collection, string Version, DateTimeOffset At, double LatencyMilliseconds, IReadOnlyList<string> Hits, bool Failed,
    Guid? ShadowOf = null, double? Overlap = null, double? Rbo = null);

/// <summary>Per-version search figures over a window.</summary>
public sealed record VersionSearchStats(string Version, long Searches, long Failed, long Empty, double? P50Milliseconds, double? P99Milliseconds, long Clicked, double? ClickThrough);

/// <summary>Shadow comparison figures of a version pair over a window.</summary>
public sealed record ShadowStats(string Version, string Candidate, long Samples, double? Overlap, double? Rbo, double? LatencyDeltaP50Milliseconds);

/// <summary>A version's search figures over one time bucket starting at <paramref name="At"/>.</summary>
public sealed record VersionSearchPoint(DateTimeOffset At, VersionSearchStats Stats);

/// <summary>A version pair's shadow figures over one time bucket starting at <paramref name="At"/>.</summary>
public sealed record ShadowPoint(DateTimeOffset At, ShadowStats Stats);

/// <summary>The search log and feedback tables: written in batches by the silos, read for A/B figures.</summary>
public sealed class SearchLog(NpgsqlDataSource dataSource)
{
    /// <summary>The rank within which a click counts for click-through.</summary>
    public const int ClickRank = 10;

    /// <summary>Appends entries (binary COPY; an entry already logged is an error, ids are fresh).</summary>
    public async Task AppendAsync(IReadOnlyList<SearchLogEntry> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0)
        {
            return;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var copy = await connection.BeginBinaryImportAsync(
            "COPY embeddings_search_log (query_id, collection, version, at, latency_ms, hits, failed, shadow_of, overlap, rbo) FROM STDIN (FORMAT BINARY)",
            cancellationToken).ConfigureAwait(false);
        foreach (var e in entries)
        {
            await copy.StartRowAsync(cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(e.QueryId, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(e.Collection, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(e.Version, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(e.At, NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync((float)e.LatencyMilliseconds, NpgsqlDbType.Real, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(e.Hits.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(e.Failed, NpgsqlDbType.Boolean, cancellationToken).ConfigureAwait(false);
            await WriteNullableAsync(copy, e.ShadowOf, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
            await WriteNullableAsync(copy, (float?)e.Overlap, NpgsqlDbType.Real, cancellationToken).ConfigureAwait(false);
            await WriteNullableAsync(copy, (float?)e.Rbo, NpgsqlDbType.Real, cancellationToken).ConfigureAwait(false);
        }

        await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Records feedback on a hit of a search; repeating it changes nothing.</summary>
    public async Task RecordFeedbackAsync(Guid queryId, string documentId, string kind, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "INSERT INTO embeddings_search_feedback (query_id, document_id, kind) VALUES (@q, @d, @k) ON CONFLICT DO NOTHING");
        command.Parameters.AddWithValue("q", queryId);
        command.Parameters.AddWithValue("d", documentId);
        command.Parameters.AddWithValue("k", kind);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Searches, failures, empty answers, latency and click-through at <see cref="ClickRank"/> per version since <paramref name="since"/> (shadow runs excluded).</summary>
    public async Task<IReadOnlyList<VersionSearchStats>> ReadVersionStatsAsync(string collection, DateTimeOffset since, CancellationToken cancellationToken = default) =>
        [.. (await ReadVersionSeriesAsync(collection, since, bucket: null, cancellationToken).ConfigureAwait(false)).Select(p => p.Stats)];

    /// <summary>Shadow comparisons per (answering version, candidate) since <paramref name="since"/>.</summary>
    public async Task<IReadOnlyList<ShadowStats>> ReadShadowStatsAsync(string collection, DateTimeOffset since, CancellationToken cancellationToken = default) =>
        [.. (await ReadShadowSeriesAsync(collection, since, bucket: null, cancellationToken).ConfigureAwait(false)).Select(p => p.Stats)];

    /// <summary>
    /// The figures of <see cref="ReadVersionStatsAsync"/> per version and per time bucket of length <paramref name="bucket"/>
    /// since <paramref name="since"/> (buckets start at <paramref name="since"/>; a bucket without searches has no point),
    /// oldest first; with no bucket, one point per version covering the whole window.
    /// </summary>
    public async Task<IReadOnlyList<VersionSearchPoint>> ReadVersionSeriesAsync(string collection, DateTimeOffset since, TimeSpan? bucket, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT {BucketOf("l.at", bucket)}, l.version, count(*), count(*) FILTER (WHERE l.failed), count(*) FILTER (WHERE NOT l.failed AND cardinality(l.hits) = 0),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY l.latency_ms) FILTER (WHERE NOT l.failed),
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY l.latency_ms) FILTER (WHERE NOT l.failed),
                   count(*) FILTER (WHERE EXISTS (SELECT 1 FROM embeddings_search_feedback f
                                                  WHERE f.query_id = l.query_id AND f.kind = 'click' AND array_position(l.hits, f.document_id) <= @rank))
              FROM embeddings_search_log l
             WHERE l.collection = @c AND l.at >= @since AND l.shadow_of IS NULL
             GROUP BY 1, l.version ORDER BY 1, l.version
            """);
        AddWindow(command, collection, since, bucket);
        command.Parameters.AddWithValue("rank", ClickRank);
        var points = new List<VersionSearchPoint>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var searches = reader.GetInt64(2);
            var failed = reader.GetInt64(3);
            var clicked = reader.GetInt64(7);
            points.Add(new VersionSearchPoint(reader.GetFieldValue<DateTimeOffset>(0), new VersionSearchStats(
                reader.GetString(1), searches, failed, reader.GetInt64(4),
                reader.IsDBNull(5) ? null : reader.GetDouble(5), reader.IsDBNull(6) ? null : reader.GetDouble(6),
                clicked, searches - failed > 0 ? (double)clicked / (searches - failed) : null)));
        }

        return points;
    }

    /// <summary>The figures of <see cref="ReadShadowStatsAsync"/> per time bucket, as <see cref="ReadVersionSeriesAsync"/> buckets them.</summary>
    public async Task<IReadOnlyList<ShadowPoint>> ReadShadowSeriesAsync(string collection, DateTimeOffset since, TimeSpan? bucket, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT {BucketOf("s.at", bucket)}, p.version, s.version, count(*), avg(s.overlap), avg(s.rbo), percentile_cont(0.5) WITHIN GROUP (ORDER BY s.latency_ms - p.latency_ms)
              FROM embeddings_search_log s JOIN embeddings_search_log p ON p.query_id = s.shadow_of
             WHERE s.collection = @c AND s.at >= @since AND NOT s.failed
             GROUP BY 1, p.version, s.version ORDER BY 1, p.version, s.version
            """);
        AddWindow(command, collection, since, bucket);
        var points = new List<ShadowPoint>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            points.Add(new ShadowPoint(reader.GetFieldValue<DateTimeOffset>(0), new ShadowStats(
                reader.GetString(1), reader.GetString(2), reader.GetInt64(3),
                reader.IsDBNull(4) ? null : reader.GetDouble(4), reader.IsDBNull(5) ? null : reader.GetDouble(5), reader.IsDBNull(6) ? null : reader.GetDouble(6))));
        }

        return points;
    }

    // The start of a row's bucket: date_bin from the window's start, or the window's start itself when there is one bucket.
    private static string BucketOf(string column, TimeSpan? bucket) => bucket is null ? "@since::timestamptz" : $"date_bin(@bucket, {column}, @since)";

    private static void AddWindow(NpgsqlCommand command, string collection, DateTimeOffset since, TimeSpan? bucket)
    {
        command.Parameters.AddWithValue("c", collection);
        command.Parameters.AddWithValue("since", since);
        if (bucket is { } length)
        {
            if (length <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(bucket), length, "A bucket must be longer than zero.");
            }

            command.Parameters.AddWithValue("bucket", length);
        }
    }

    /// <summary>Deletes searches (and their feedback) older than <paramref name="before"/>.</summary>
    public async Task<int> PurgeAsync(DateTimeOffset before, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            """
            WITH gone AS (DELETE FROM embeddings_search_log WHERE at < @before RETURNING query_id)
            DELETE FROM embeddings_search_feedback f USING gone WHERE f.query_id = gone.query_id
            """);
        command.Parameters.AddWithValue("before", before);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static Task WriteNullableAsync<T>(NpgsqlBinaryImporter copy, T? value, NpgsqlDbType type, CancellationToken cancellationToken)
        where T : struct =>
        value is { } v ? copy.WriteAsync(v, type, cancellationToken) : copy.WriteNullAsync(cancellationToken);
}
