using Npgsql;
using NpgsqlTypes;
using Orleans.Embeddings.Storage.Documents;
using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Storage.Reconciliation;

/// <summary>
/// Compares a version table with the documents table: the bulk load is the first reconciliation pass,
/// and passes repeat until <see cref="CountDivergenceAsync(VersionTable, CancellationToken)"/> finds nothing. Pages are keyset-paginated
/// per shard, so a loader can checkpoint (shard, last id) and resume after a crash.
/// </summary>
public sealed class ReconciliationQueries(NpgsqlDataSource dataSource)
{
    /// <summary>
    /// Live documents of <paramref name="shard"/> after <paramref name="afterId"/> (null: from the start) whose
    /// vector is missing or stale, in id order. The last id is the cursor of the next page; an empty page ends the shard.
    /// With <paramref name="updatedBefore"/>, only documents last changed before it: a rollout leaves later changes to
    /// the live dual-write, which had reached every silo by then.
    /// </summary>
    public async Task<IReadOnlyList<PendingDocument>> ReadPendingDocumentsAsync(
        VersionTable table, int shard, string? afterId, int limit, DateTimeOffset? updatedBefore, CancellationToken cancellationToken = default) =>
        [.. (await ReadPageAsync(table, shard, afterId, limit, updatedBefore, StaleDocument, cancellationToken).ConfigureAwait(false))
            .Select(p => new PendingDocument(p.Id, p.Seq, p.Content!, p.MetadataJson))];

    /// <summary>
    /// Documents of <paramref name="shard"/> deleted at a higher seq than their still-live row in the version
    /// table, in id order after <paramref name="afterId"/>: tombstones the version has yet to receive (with
    /// <paramref name="updatedBefore"/>, only deletes before it).
    /// </summary>
    public async Task<IReadOnlyList<PendingTombstone>> ReadPendingTombstonesAsync(
        VersionTable table, int shard, string? afterId, int limit, DateTimeOffset? updatedBefore, CancellationToken cancellationToken = default) =>
        [.. (await ReadPageAsync(table, shard, afterId, limit, updatedBefore, MissingTombstone, cancellationToken).ConfigureAwait(false))
            .Select(p => new PendingTombstone(p.Id, p.Seq))];

    /// <summary>
    /// One keyset page of everything <paramref name="shard"/> lacks in the version after <paramref name="afterId"/>, in id
    /// order: live documents whose vector is missing or stale, and deletes whose live row is older (tombstones). The
    /// loader's unit of work; the last id is the next cursor, and a page shorter than <paramref name="limit"/> ends the shard.
    /// </summary>
    public Task<IReadOnlyList<PendingChange>> ReadPendingPageAsync(
        VersionTable table, int shard, string? afterId, int limit, DateTimeOffset? updatedBefore, CancellationToken cancellationToken = default) =>
        ReadPageAsync(table, shard, afterId, limit, updatedBefore, $"(({StaleDocument}) OR ({MissingTombstone}))", cancellationToken);

    /// <summary>Counts what separates the version table from the documents (zero everywhere = converged).</summary>
    public Task<VersionDivergence> CountDivergenceAsync(VersionTable table, CancellationToken cancellationToken = default) =>
        CountDivergenceAsync(table, null, cancellationToken);

    /// <summary>Counts what separates the version table from the documents last changed before <paramref name="updatedBefore"/> (null: all).</summary>
    public async Task<VersionDivergence> CountDivergenceAsync(VersionTable table, DateTimeOffset? updatedBefore, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT count(*) FILTER (WHERE NOT d.deleted AND e.id IS NULL),
                   count(*) FILTER (WHERE NOT d.deleted AND e.seq < d.seq),
                   count(*) FILTER (WHERE {MissingTombstone})
              FROM embeddings_documents d
              LEFT JOIN {table.QuotedTable} e ON e.id = d.id
             WHERE d.collection = @collection AND (@before::timestamptz IS NULL OR d.updated_at < @before)
            """);
        command.Parameters.AddWithValue("collection", table.Collection);
        command.Parameters.Add(new NpgsqlParameter("before", NpgsqlDbType.TimestampTz) { Value = (object?)updatedBefore ?? DBNull.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new VersionDivergence(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    // What a version lacks for a document d (its row there is e, or NULL): the same conditions page and count.
    private const string StaleDocument = "NOT d.deleted AND (e.id IS NULL OR e.seq < d.seq)";
    private const string MissingTombstone = "d.deleted AND e.id IS NOT NULL AND NOT e.deleted AND e.seq < d.seq";

    // A keyset page of the documents of a shard that match `pending`, in id order; content is null for a deleted one.
    private async Task<IReadOnlyList<PendingChange>> ReadPageAsync(
        VersionTable table, int shard, string? afterId, int limit, DateTimeOffset? updatedBefore, string pending, CancellationToken cancellationToken)
    {
        await using var command = CreatePageCommand(
            table, shard, afterId, limit, updatedBefore,
            $"""
            SELECT d.id, d.seq, CASE WHEN d.deleted THEN NULL ELSE d.content END, d.metadata::text
              FROM embeddings_documents d
              LEFT JOIN {table.QuotedTable} e ON e.id = d.id
             WHERE d.collection = @collection AND d.shard = @shard AND (@after::text IS NULL OR d.id > @after)
               AND (@before::timestamptz IS NULL OR d.updated_at < @before)
               AND {pending}
             ORDER BY d.id
             LIMIT @limit
            """);
        var page = new List<PendingChange>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            page.Add(new PendingChange(reader.GetString(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetString(3)));
        }

        return page;
    }

    private NpgsqlCommand CreatePageCommand(VersionTable table, int shard, string? afterId, int limit, DateTimeOffset? updatedBefore, string sql)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentOutOfRangeException.ThrowIfNegative(shard);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(shard, DocumentStore.ShardCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var command = dataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("collection", table.Collection);
        command.Parameters.AddWithValue("shard", (short)shard);
        command.Parameters.Add(new NpgsqlParameter("after", NpgsqlDbType.Text) { Value = (object?)afterId ?? DBNull.Value });
        command.Parameters.AddWithValue("limit", limit);
        command.Parameters.Add(new NpgsqlParameter("before", NpgsqlDbType.TimestampTz) { Value = (object?)updatedBefore ?? DBNull.Value });
        return command;
    }
}
