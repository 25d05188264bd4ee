using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Orleans.Embeddings.Storage.Naming;

namespace Orleans.Embeddings.Storage.Documents;

/// <summary>
/// The documents table, written with the sequence guard: a change replaces a row only when its seq is
/// higher, an equal seq is a no-op, and a delete leaves a tombstone so an older change arriving late
/// cannot bring the document back (DESIGN invariants 2 and 3).
/// </summary>
public sealed class DocumentStore(NpgsqlDataSource dataSource)
{
    /// <summary>The number of shards the id space is split into (the database computes the shard).</summary>
    public const int ShardCount = 256;

    private const string Columns = "id, seq, deleted, content, metadata::text, content_hash, shard, updated_at";

    // Writes one change; "previous" sees the row as it was before this statement, which tells whether
    // the text changed. The guard in the ON CONFLICT clause is what orders concurrent writers.
    private const string UpsertSql =
        """
        WITH previous AS (
            SELECT deleted, content_hash FROM embeddings_documents WHERE collection = @collection AND id = @id),
        written AS (
            INSERT INTO embeddings_documents AS d (collection, id, seq, deleted, content, metadata, content_hash)
            VALUES (@collection, @id, @seq, @deleted, @content, @metadata, @content_hash)
            ON CONFLICT (collection, id) DO UPDATE
               SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted, content = EXCLUDED.content,
                   metadata = CASE WHEN EXCLUDED.deleted THEN d.metadata ELSE EXCLUDED.metadata END,
                   content_hash = EXCLUDED.content_hash, updated_at = now()
             WHERE d.seq < EXCLUDED.seq
            RETURNING 1)
        SELECT EXISTS (SELECT 1 FROM written),
               (SELECT deleted FROM previous),
               (SELECT content_hash FROM previous)
        """;

    /// <summary>Writes new text and metadata for a document if <paramref name="seq"/> is newer than what is stored.</summary>
    /// <exception cref="ArgumentException">A name, the id or the metadata is invalid.</exception>
    public Task<DocumentWriteResult> UpsertAsync(
        string collection, string id, long seq, string content, string metadataJson = "{}", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        return WriteAsync(collection, id, seq, content, metadataJson, cancellationToken);
    }

    /// <summary>Deletes a document at <paramref name="seq"/>, leaving a tombstone, if the seq is newer than what is stored.</summary>
    public Task<DocumentWriteResult> DeleteAsync(string collection, string id, long seq, CancellationToken cancellationToken = default) =>
        WriteAsync(collection, id, seq, null, "{}", cancellationToken);

    /// <summary>
    /// Writes many changes in one round trip, each with the guard. Within the batch the highest seq per id wins.
    /// </summary>
    public async Task<BatchWriteResult> UpsertManyAsync(string collection, IReadOnlyList<DocumentUpsert> changes, CancellationToken cancellationToken = default)
    {
        var results = await WriteManyAsync(collection, changes, cancellationToken).ConfigureAwait(false);
        var applied = results.Count(r => r.Applied);
        return new BatchWriteResult(applied, results.Length - applied);
    }

    /// <summary>
    /// Writes many changes of one collection in one round trip, each with the guard, and says for each what it did
    /// (as <see cref="UpsertAsync"/> would have). Within the batch the highest seq per id wins; the others are not applied.
    /// </summary>
    public async Task<DocumentWriteResult[]> WriteManyAsync(string collection, IReadOnlyList<DocumentUpsert> changes, CancellationToken cancellationToken = default)
    {
        StorageNames.Validate(collection, "collection");
        ArgumentNullException.ThrowIfNull(changes);
        var results = new DocumentWriteResult[changes.Count];
        if (changes.Count == 0)
        {
            return results;
        }

        var (ids, seqs, contents, metadata, hashes) = Columnize(changes);

        // "previous" sees the rows as they were before this statement; "written" lists what the guard let through.
        await using var command = dataSource.CreateCommand(
            """
            WITH incoming AS (
                SELECT DISTINCT ON (id) id, seq, content, metadata, content_hash
                  FROM unnest(@ids, @seqs, @contents, @metadata::jsonb[], @hashes) AS c (id, seq, content, metadata, content_hash)
                 ORDER BY id, seq DESC),
            previous AS (
                SELECT d.id, d.deleted, d.content_hash FROM embeddings_documents d
                 WHERE d.collection = @collection AND d.id = ANY(@ids)),
            written AS (
                INSERT INTO embeddings_documents AS d (collection, id, seq, deleted, content, metadata, content_hash)
                SELECT @collection, id, seq, content IS NULL, content, metadata, content_hash FROM incoming
                ON CONFLICT (collection, id) DO UPDATE
                   SET seq = EXCLUDED.seq, deleted = EXCLUDED.deleted, content = EXCLUDED.content,
                       metadata = CASE WHEN EXCLUDED.deleted THEN d.metadata ELSE EXCLUDED.metadata END,
                       content_hash = EXCLUDED.content_hash, updated_at = now()
                 WHERE d.seq < EXCLUDED.seq
                RETURNING d.id, d.seq)
            SELECT w.id, w.seq, p.id IS NOT NULL, coalesce(p.deleted, false), p.content_hash
              FROM written w LEFT JOIN previous p ON p.id = w.id
            """);
        command.Parameters.AddWithValue("collection", collection);
        command.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = ids });
        command.Parameters.Add(new NpgsqlParameter("seqs", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = seqs });
        command.Parameters.Add(new NpgsqlParameter("contents", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = contents });
        command.Parameters.Add(new NpgsqlParameter("metadata", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = metadata });
        command.Parameters.Add(new NpgsqlParameter("hashes", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { Value = hashes });
        var written = new Dictionary<string, (long Seq, bool Existed, bool WasDeleted, byte[]? PreviousHash)>(StringComparer.Ordinal);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                written[reader.GetString(0)] = (reader.GetInt64(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.IsDBNull(4) ? null : (byte[])reader.GetValue(4));
            }
        }

        for (var i = 0; i < changes.Count; i++)
        {
            if (!written.TryGetValue(ids[i], out var row) || row.Seq != seqs[i])
            {
                results[i] = new DocumentWriteResult(false, false);
                continue;
            }

            var hash = hashes[i];
            var contentChanged = !row.Existed || row.WasDeleted != (contents[i] is null)
                || (hash is not null && (row.PreviousHash is null || !hash.AsSpan().SequenceEqual(row.PreviousHash)));
            results[i] = new DocumentWriteResult(true, contentChanged);
        }

        return results;
    }

    /// <summary>Reads a document (live or tombstone), or null when the store has never seen it.</summary>
    public async Task<StoredDocument?> GetAsync(string collection, string id, CancellationToken cancellationToken = default)
    {
        StorageNames.Validate(collection, "collection");
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM embeddings_documents WHERE collection = @collection AND id = @id");
        command.Parameters.AddWithValue("collection", collection);
        command.Parameters.AddWithValue("id", CheckId(id));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    /// <summary>
    /// A keyset page of one shard, in id order after <paramref name="afterId"/> (null for the first page),
    /// tombstones included. The last id of a page is the cursor of the next.
    /// </summary>
    public async Task<IReadOnlyList<StoredDocument>> ReadShardPageAsync(
        string collection, int shard, string? afterId, int limit, CancellationToken cancellationToken = default)
    {
        StorageNames.Validate(collection, "collection");
        ArgumentOutOfRangeException.ThrowIfNegative(shard);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(shard, ShardCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var command = dataSource.CreateCommand(
            $"""
            SELECT {Columns} FROM embeddings_documents
             WHERE collection = @collection AND shard = @shard AND (@after::text IS NULL OR id > @after)
             ORDER BY id LIMIT @limit
            """);
        command.Parameters.AddWithValue("collection", collection);
        command.Parameters.AddWithValue("shard", (short)shard);
        command.Parameters.Add(new NpgsqlParameter("after", NpgsqlDbType.Text) { Value = (object?)afterId ?? DBNull.Value });
        command.Parameters.AddWithValue("limit", limit);
        var page = new List<StoredDocument>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            page.Add(Read(reader));
        }

        return page;
    }

    /// <summary>
    /// Removes tombstones written before <paramref name="olderThan"/>. Only safe when no bulk load or
    /// reconciliation of any version of the collection can still run (DESIGN invariant 3).
    /// </summary>
    public async Task<int> PurgeTombstonesAsync(string collection, DateTimeOffset olderThan, CancellationToken cancellationToken = default)
    {
        StorageNames.Validate(collection, "collection");
        await using var command = dataSource.CreateCommand(
            "DELETE FROM embeddings_documents WHERE collection = @collection AND deleted AND updated_at < @before");
        command.Parameters.AddWithValue("collection", collection);
        command.Parameters.AddWithValue("before", olderThan.UtcDateTime);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>SHA-256 of the UTF-8 bytes of <paramref name="content"/>, as stored in content_hash.</summary>
    public static byte[] HashContent(string content) => SHA256.HashData(Encoding.UTF8.GetBytes(content));

    private async Task<DocumentWriteResult> WriteAsync(
        string collection, string id, long seq, string? content, string metadataJson, CancellationToken cancellationToken)
    {
        StorageNames.Validate(collection, "collection");
        CheckId(id);
        var hash = content is null ? null : HashContent(content);
        await using var command = dataSource.CreateCommand(UpsertSql);
        command.Parameters.AddWithValue("collection", collection);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("seq", seq);
        command.Parameters.AddWithValue("deleted", content is null);
        command.Parameters.Add(new NpgsqlParameter("content", NpgsqlDbType.Text) { Value = (object?)content ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("metadata", NpgsqlDbType.Jsonb) { Value = content is null ? "{}" : CheckMetadata(id, metadataJson) });
        command.Parameters.Add(new NpgsqlParameter("content_hash", NpgsqlDbType.Bytea) { Value = (object?)hash ?? DBNull.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var applied = reader.GetBoolean(0);
        if (!applied)
        {
            return new DocumentWriteResult(false, false);
        }

        var existed = !reader.IsDBNull(1);
        var wasDeleted = existed && reader.GetBoolean(1);
        var previousHash = reader.IsDBNull(2) ? null : (byte[])reader.GetValue(2);
        var contentChanged = !existed || wasDeleted != (content is null) || (hash is not null && (previousHash is null || !hash.AsSpan().SequenceEqual(previousHash)));
        return new DocumentWriteResult(true, contentChanged);
    }

    // The changes as column arrays for unnest, checked.
    private static (string[] Ids, long[] Seqs, string?[] Contents, string[] Metadata, byte[]?[] Hashes) Columnize(IReadOnlyList<DocumentUpsert> changes)
    {
        var ids = new string[changes.Count];
        var seqs = new long[changes.Count];
        var contents = new string?[changes.Count];
        var metadata = new string[changes.Count];
        var hashes = new byte[]?[changes.Count];
        for (var i = 0; i < changes.Count; i++)
        {
            var change = changes[i];
            ids[i] = CheckId(change.Id);
            seqs[i] = change.Seq;
            contents[i] = change.Content;
            metadata[i] = change.IsDelete ? "{}" : CheckMetadata(change.Id, change.MetadataJson);
            hashes[i] = change.Content is null ? null : HashContent(change.Content);
        }

        return (ids, seqs, contents, metadata, hashes);
    }

    private static string CheckId(string id)
    {
        if (string.IsNullOrEmpty(id))
        {
            throw new ArgumentException("A document id must not be empty.", nameof(id));
        }

        return id;
    }

    private static string CheckMetadata(string id, string metadataJson)
    {
        try
        {
            using var document = JsonDocument.Parse(metadataJson);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ArgumentException($"The metadata of document '{id}' must be a JSON object, not {document.RootElement.ValueKind}.", nameof(metadataJson));
            }
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"The metadata of document '{id}' is not valid JSON: {ex.Message}", nameof(metadataJson), ex);
        }

        return metadataJson;
    }

    private static StoredDocument Read(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.GetInt64(1),
        reader.GetBoolean(2),
        reader.IsDBNull(3) ? null : reader.GetString(3),
        reader.GetString(4),
        reader.IsDBNull(5) ? null : (byte[])reader.GetValue(5),
        reader.GetInt16(6),
        reader.GetFieldValue<DateTimeOffset>(7));
}
