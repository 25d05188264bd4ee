using Npgsql;
using NpgsqlTypes;
using Orleans.Embeddings.Storage.Documents;
using Orleans.Embeddings.Storage.Versions;
using Pgvector;

namespace Orleans.Embeddings.Storage.Vectors;

/// <summary>
/// Guarded, batched writes into a version table: a row is replaced only by a higher seq, so bulk loads
/// and live writes can race in any order and converge to the newest (DESIGN invariant 2); deletes write
/// tombstones that an older write cannot undo (invariant 3).
/// </summary>
/// <remarks>
/// A batch is merged with one <c>INSERT … ON CONFLICT DO UPDATE … WHERE seq is higher</c>. Up to
/// <see cref="SingleStatementRows"/> rows travel as array parameters of that one statement; a larger batch is
/// streamed with binary COPY into a temporary table first. Either way a batch costs a fixed number of round trips.
/// </remarks>
public sealed class EmbeddingTableWriter(NpgsqlDataSource dataSource)
{
    /// <summary>The largest batch written as one statement with array parameters; larger ones go through COPY.</summary>
    public const int SingleStatementRows = 256;

    /// <summary>Writes a batch; returns how many rows were applied and how many were ignored as stale or duplicate.</summary>
    /// <exception cref="ArgumentException">A row has no id, a vector of the wrong length, or non-finite values.</exception>
    public async Task<BatchWriteResult> WriteAsync(VersionTable table, IReadOnlyList<EmbeddingRow> rows, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0)
        {
            return default;
        }

        foreach (var row in rows)
        {
            Check(table, row);
        }

        var applied = rows.Count <= SingleStatementRows
            ? await MergeArraysAsync(table, rows, cancellationToken).ConfigureAwait(false)
            : await CopyAndMergeAsync(table, rows, cancellationToken).ConfigureAwait(false);
        return new BatchWriteResult(applied, rows.Count - applied);
    }

    // A small batch (a live change, a load page) is one statement with the rows as array parameters: one round trip,
    // and no temporary table to create and drop in the catalog for every write.
    private async Task<int> MergeArraysAsync(VersionTable table, IReadOnlyList<EmbeddingRow> rows, CancellationToken cancellationToken)
    {
        var ids = new string[rows.Count];
        var seqs = new long[rows.Count];
        var deleted = new bool[rows.Count];
        var vectors = new Vector?[rows.Count];
        var metadata = new string[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            (ids[i], seqs[i], deleted[i], metadata[i]) = (row.Id, row.Seq, row.Deleted, row.MetadataJson);
            vectors[i] = row.Deleted ? null : new Vector(row.Vector);
        }

        await using var merge = dataSource.CreateCommand(MergeSql(
            table, "unnest(@ids, @seqs, @deleted, @embeddings, @metadata::jsonb[]) AS r (id, seq, deleted, embedding, metadata)"));
        merge.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = ids });
        merge.Parameters.Add(new NpgsqlParameter("seqs", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = seqs });
        merge.Parameters.Add(new NpgsqlParameter("deleted", NpgsqlDbType.Array | NpgsqlDbType.Boolean) { Value = deleted });
        merge.Parameters.Add(new NpgsqlParameter { ParameterName = "embeddings", DataTypeName = "vector[]", Value = vectors });
        merge.Parameters.Add(new NpgsqlParameter("metadata", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = metadata });
        return (int)(await merge.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    // A large batch (an ingest) streams through binary COPY into a temporary table, then merges from there.
    private async Task<int> CopyAndMergeAsync(VersionTable table, IReadOnlyList<EmbeddingRow> rows, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var stage = new NpgsqlCommand(
            "CREATE TEMP TABLE embeddings_stage (id text, seq bigint, deleted boolean, embedding vector, metadata jsonb) ON COMMIT DROP",
            connection, transaction))
        {
            await stage.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY embeddings_stage (id, seq, deleted, embedding, metadata) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false))
        {
            foreach (var row in rows)
            {
                await copy.StartRowAsync(cancellationToken).ConfigureAwait(false);
                await copy.WriteAsync(row.Id, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await copy.WriteAsync(row.Seq, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                await copy.WriteAsync(row.Deleted, NpgsqlDbType.Boolean, cancellationToken).ConfigureAwait(false);
                if (row.Deleted)
                {
                    await copy.WriteNullAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await copy.WriteAsync(new Vector(row.Vector), "vector", cancellationToken).ConfigureAwait(false);
                }

                await copy.WriteAsync(row.MetadataJson, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
            }

            await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var merge = new NpgsqlCommand(MergeSql(table, "embeddings_stage"), connection, transaction);
        var applied = (int)(await merge.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return applied;
    }

    // The guarded upsert from a source of (id, seq, deleted, embedding, metadata). DISTINCT ON keeps the highest seq per
    // id of the batch: ON CONFLICT may touch a row only once.
    private static string MergeSql(VersionTable table, string source) =>
        $"""
        WITH incoming AS (
            SELECT DISTINCT ON (id) id, seq, deleted, embedding, metadata FROM {source} ORDER BY id, seq DESC),
        written AS (
            INSERT INTO {table.QuotedTable} AS t (id, seq, deleted, embedding, metadata)
            SELECT id, seq, deleted, CASE WHEN deleted THEN NULL ELSE embedding::{table.ColumnType} END, metadata FROM incoming
            ON CONFLICT (id) DO UPDATE
               SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted, embedding = EXCLUDED.embedding,
                   metadata = CASE WHEN EXCLUDED.deleted THEN t.metadata ELSE EXCLUDED.metadata END, updated_at = now()
             WHERE t.seq < EXCLUDED.seq
            RETURNING 1)
        SELECT count(*)::integer FROM written
        """;

    /// <summary>
    /// Changes the metadata copy of a live row and moves it to <paramref name="seq"/> without re-embedding,
    /// for a change that left the text as it was. Returns false when the row is missing, deleted, or newer.
    /// </summary>
    public async Task<bool> UpdateMetadataAsync(VersionTable table, string id, long seq, string metadataJson, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        await using var command = dataSource.CreateCommand(
            $"UPDATE {table.QuotedTable} SET metadata = @metadata, seq = @seq, updated_at = now() WHERE id = @id AND seq < @seq AND NOT deleted");
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("seq", seq);
        command.Parameters.Add(new NpgsqlParameter("metadata", NpgsqlDbType.Jsonb) { Value = metadataJson });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <summary>The stored seq of each of <paramref name="ids"/> that has a row (live or tombstone) in the version's table.</summary>
    public async Task<IReadOnlyDictionary<string, long>> GetSeqsAsync(VersionTable table, IReadOnlyCollection<string> ids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(ids);
        await using var command = dataSource.CreateCommand($"SELECT id, seq FROM {table.QuotedTable} WHERE id = ANY(@ids)");
        command.Parameters.AddWithValue("ids", ids.ToArray());
        var seqs = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            seqs[reader.GetString(0)] = reader.GetInt64(1);
        }

        return seqs;
    }

    /// <summary>
    /// Removes tombstones written before <paramref name="olderThan"/>. Only safe when no bulk load or
    /// reconciliation of this version can still run (DESIGN invariant 3).
    /// </summary>
    public async Task<int> PurgeTombstonesAsync(VersionTable table, DateTimeOffset olderThan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        await using var command = dataSource.CreateCommand($"DELETE FROM {table.QuotedTable} WHERE deleted AND updated_at < @before");
        command.Parameters.AddWithValue("before", olderThan.UtcDateTime);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void Check(VersionTable table, EmbeddingRow row)
    {
        if (string.IsNullOrEmpty(row.Id))
        {
            throw new ArgumentException("An embedding row has an empty document id.", nameof(row));
        }

        if (row.Deleted)
        {
            return;
        }

        if (row.Vector.Length != table.Dimensions)
        {
            throw new ArgumentException(
                $"The vector of document '{row.Id}' has {row.Vector.Length} dimensions; version {table.Version} of {table.Collection} stores {table.Dimensions}.",
                nameof(row));
        }

        foreach (var value in row.Vector.Span)
        {
            if (!float.IsFinite(value))
            {
                throw new ArgumentException($"The vector of document '{row.Id}' holds a non-finite value ({value}).", nameof(row));
            }
        }
    }
}
