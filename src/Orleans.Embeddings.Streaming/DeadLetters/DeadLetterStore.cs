using System.Text;
using Npgsql;
using Orleans.Embeddings.Storage;

namespace Orleans.Embeddings.Streaming.DeadLetters;

/// <summary>The dead-letter table shared by both transports (the PostgreSQL log moves rows into it itself).</summary>
public sealed class DeadLetterStore(NpgsqlDataSource dataSource)
{
    /// <summary>Records dead letters; recording the same (provider, queue, position) twice keeps the first.</summary>
    public async Task AddAsync(IReadOnlyList<DeadLetter> letters, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(letters);
        if (letters.Count == 0)
        {
            return;
        }

        await using var command = dataSource.CreateCommand(
            """
            INSERT INTO embeddings_stream_dead_letters (provider, transport, queue_id, position, stream_key, payload, attempts, reason)
            SELECT * FROM unnest(@providers, @transports, @queues, @positions, @keys, @payloads, @attempts, @reasons)
            ON CONFLICT (provider, queue_id, position, md5(payload)) DO NOTHING
            """);
        command.Parameters.AddWithValue("providers", letters.Select(l => l.Provider).ToArray());
        command.Parameters.AddWithValue("transports", letters.Select(l => l.Transport).ToArray());
        command.Parameters.AddWithValue("queues", letters.Select(l => l.Queue).ToArray());
        command.Parameters.AddWithValue("positions", letters.Select(l => l.Position).ToArray());
        // A Kafka key or a reason quoting bad input may hold NUL, which PostgreSQL text cannot store: the letter must
        // still be written, or its partition could not move on.
        command.Parameters.AddWithValue("keys", letters.Select(l => PostgresText.ReplaceNul(l.StreamKey)).ToArray());
        command.Parameters.AddWithValue("payloads", letters.Select(l => l.Payload).ToArray());
        command.Parameters.AddWithValue("attempts", letters.Select(l => l.Attempts).ToArray());
        command.Parameters.AddWithValue("reasons", letters.Select(l => PostgresText.ReplaceNul(l.Reason)!).ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The dead letters of a provider, oldest first.</summary>
    public async Task<IReadOnlyList<DeadLetter>> ListAsync(string provider, int limit = 1000, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            """
            SELECT provider, transport, queue_id, position, stream_key, payload, attempts, reason, failed_at
              FROM embeddings_stream_dead_letters WHERE provider = @provider ORDER BY id LIMIT @limit
            """);
        command.Parameters.AddWithValue("provider", provider);
        command.Parameters.AddWithValue("limit", limit);
        var letters = new List<DeadLetter>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            letters.Add(new DeadLetter(
                reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.GetInt64(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), (byte[])reader.GetValue(5), reader.GetInt32(6), reader.GetString(7),
                reader.GetFieldValue<DateTimeOffset>(8)));
        }

        return letters;
    }

    /// <summary>
    /// How many dead letters there are, the most frequent reasons and the latest letters with the first
    /// <paramref name="payloadBytes"/> of their payloads: of one collection (those whose stream key names it) or, with no
    /// collection, of every provider.
    /// </summary>
    public async Task<DeadLetterSummary> SummarizeAsync(
        string? collection, int reasons = 10, int latest = 10, int payloadBytes = 160, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(reasons);
        ArgumentOutOfRangeException.ThrowIfNegative(latest);
        ArgumentOutOfRangeException.ThrowIfNegative(payloadBytes);
        const string Scope = "(@collection::text IS NULL OR starts_with(stream_key, @collection || '/'))";
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT count(*) FROM embeddings_stream_dead_letters WHERE {Scope}"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            $"SELECT reason, count(*), max(failed_at) FROM embeddings_stream_dead_letters WHERE {Scope} GROUP BY reason ORDER BY count(*) DESC, max(failed_at) DESC LIMIT @reasons"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            $"""
            SELECT provider, transport, queue_id, position, stream_key, attempts, reason, failed_at, length(payload), substring(payload FROM 1 FOR @preview)
              FROM embeddings_stream_dead_letters WHERE {Scope} ORDER BY id DESC LIMIT @latest
            """));
        foreach (NpgsqlBatchCommand command in batch.BatchCommands)
        {
            command.Parameters.Add(new NpgsqlParameter<string?>("collection", NpgsqlTypes.NpgsqlDbType.Text) { TypedValue = collection });
            command.Parameters.AddWithValue("reasons", reasons);
            command.Parameters.AddWithValue("latest", latest);
            command.Parameters.AddWithValue("preview", payloadBytes);
        }

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var total = reader.GetInt64(0);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var byReason = new List<DeadLetterReason>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            byReason.Add(new DeadLetterReason(reader.GetString(0), reader.GetInt64(1), reader.GetFieldValue<DateTimeOffset>(2)));
        }

        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var letters = new List<DeadLetterExcerpt>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            letters.Add(new DeadLetterExcerpt(
                reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.GetInt64(3), reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.GetInt32(5), reader.GetString(6), reader.GetFieldValue<DateTimeOffset>(7), reader.GetInt32(8), Encoding.UTF8.GetString((byte[])reader.GetValue(9))));
        }

        return new DeadLetterSummary(total, byReason, letters);
    }
}
