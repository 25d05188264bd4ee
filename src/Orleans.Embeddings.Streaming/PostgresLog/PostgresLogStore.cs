using Npgsql;
using NpgsqlTypes;

namespace Orleans.Embeddings.Streaming.PostgresLog;

/// <summary>
/// The SQL of the PostgreSQL event log (migration 0003): appending, leasing with a visibility timeout,
/// acknowledging under the lease, dead-lettering and eviction. Plain Npgsql, no Orleans: the queue
/// adapter and the producer SDK both sit on top of it.
/// </summary>
public sealed class PostgresLogStore(NpgsqlDataSource dataSource)
{
    private const string AppendSql =
        """
        WITH provider AS (
            SELECT queue_count FROM embeddings_stream_providers WHERE provider = @provider)
        INSERT INTO embeddings_stream_log (provider, queue_id, collection, document_id, payload)
        SELECT @provider, ((hashtextextended(e.collection || '/' || e.id, 0) & 2147483647) % p.queue_count)::integer,
               e.collection, e.id, e.payload
          FROM unnest(@collections, @ids, @payloads) WITH ORDINALITY AS e (collection, id, payload, n)
         CROSS JOIN provider p
         ORDER BY e.n
        RETURNING position
        """;

    // Leases the oldest visible, unacknowledged rows of a queue above a floor; SKIP LOCKED keeps two
    // readers that briefly overlap during a rebalance from blocking each other.
    private const string LeaseSql =
        """
        WITH candidates AS (
            SELECT position FROM embeddings_stream_log
             WHERE provider = @provider AND queue_id = @queue AND acked_at IS NULL
               AND position > @floor AND visible_at <= clock_timestamp()
             ORDER BY position
             LIMIT @max
               FOR UPDATE SKIP LOCKED)
        UPDATE embeddings_stream_log l
           SET attempts = l.attempts + 1, visible_at = clock_timestamp() + @visibility, lease_owner = @owner
          FROM candidates c
         WHERE l.provider = @provider AND l.queue_id = @queue AND l.position = c.position
        RETURNING l.position, l.collection, l.document_id, l.payload, l.attempts, l.enqueued_at, l.last_error
        """;

    private const string AckSql =
        """
        UPDATE embeddings_stream_log SET acked_at = clock_timestamp()
         WHERE provider = @provider AND queue_id = @queue AND position = ANY(@positions)
           AND lease_owner = @owner AND acked_at IS NULL
        """;

    private const string ExtendSql =
        """
        UPDATE embeddings_stream_log SET visible_at = clock_timestamp() + @visibility
         WHERE provider = @provider AND queue_id = @queue AND position = ANY(@positions)
           AND lease_owner = @owner AND acked_at IS NULL
        """;

    // A handover is not a failed delivery: the lease given back does not count as an attempt.
    private const string ReleaseSql =
        """
        UPDATE embeddings_stream_log SET visible_at = clock_timestamp(), attempts = greatest(attempts - 1, 0)
         WHERE provider = @provider AND queue_id = @queue AND position = ANY(@positions)
           AND lease_owner = @owner AND acked_at IS NULL
        """;

    // Leases this owner holds on rows it never received (a lease statement whose answer was lost with its connection).
    private const string ReclaimSql =
        """
        UPDATE embeddings_stream_log SET visible_at = clock_timestamp(), attempts = greatest(attempts - 1, 0)
         WHERE provider = @provider AND queue_id = @queue AND lease_owner = @owner AND acked_at IS NULL
           AND visible_at > clock_timestamp() AND NOT (position = ANY(@positions))
        """;

    private const string RetrySql =
        """
        UPDATE embeddings_stream_log SET visible_at = clock_timestamp() + @visibility, last_error = @error
         WHERE provider = @provider AND queue_id = @queue AND position = ANY(@positions)
           AND lease_owner = @owner AND acked_at IS NULL
        """;

    private const string ForeignLeasesSql =
        """
        SELECT max(visible_at) FROM embeddings_stream_log
         WHERE provider = @provider AND queue_id = @queue AND acked_at IS NULL
           AND visible_at > clock_timestamp() AND lease_owner IS DISTINCT FROM @owner
        """;

    private const string DeadLetterSql =
        """
        WITH failed AS (
            SELECT * FROM unnest(@positions, @reasons) AS f (position, reason)),
        moved AS (
            UPDATE embeddings_stream_log l SET acked_at = clock_timestamp()
              FROM failed f
             WHERE l.provider = @provider AND l.queue_id = @queue AND l.position = f.position AND l.acked_at IS NULL
            RETURNING l.position, l.collection, l.document_id, l.payload, l.attempts, f.reason)
        INSERT INTO embeddings_stream_dead_letters (provider, transport, queue_id, position, stream_key, payload, attempts, reason)
        SELECT @provider, 'postgres', @queue, position, collection || '/' || document_id, payload, attempts, reason FROM moved
        ON CONFLICT (provider, queue_id, position, md5(payload)) DO NOTHING
        """;

    private const string EvictSql =
        """
        DELETE FROM embeddings_stream_log
         WHERE provider = @provider AND queue_id = @queue AND position IN (
               SELECT position FROM embeddings_stream_log
                WHERE provider = @provider AND queue_id = @queue AND acked_at < clock_timestamp() - @retention
                ORDER BY position
                LIMIT @max)
        """;

    /// <summary>
    /// Registers a provider and its queue count, which fixes how documents map to queues. Registering the same
    /// count again does nothing; a different count is refused while events are pending, because moving a
    /// document to another queue mid-stream would break its order.
    /// </summary>
    public async Task RegisterProviderAsync(string provider, int queueCount, CancellationToken cancellationToken = default)
    {
        PostgresLogStreamOptionsValidator.ValidateProviderName(provider);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCount, 1);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand(
            "SELECT queue_count FROM embeddings_stream_providers WHERE provider = @provider FOR UPDATE", connection, transaction))
        {
            command.Parameters.AddWithValue("provider", provider);
            if (await command.ExecuteScalarAsync(cancellationToken) is int existing)
            {
                if (existing == queueCount)
                {
                    return;
                }

                var pending = await CountPendingAsync(connection, transaction, provider, cancellationToken);
                if (pending > 0)
                {
                    throw new InvalidOperationException(
                        $"Stream provider '{provider}' has {existing} queues and {pending} unacknowledged events; its queue count cannot change to {queueCount} " +
                        "until they are consumed, or documents would be read out of order.");
                }
            }
        }

        await using (var upsert = new NpgsqlCommand(
            """
            INSERT INTO embeddings_stream_providers (provider, queue_count) VALUES (@provider, @count)
            ON CONFLICT (provider) DO UPDATE SET queue_count = EXCLUDED.queue_count, updated_at = now()
            """, connection, transaction))
        {
            upsert.Parameters.AddWithValue("provider", provider);
            upsert.Parameters.AddWithValue("count", queueCount);
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Registers a provider with <paramref name="queueCount"/> queues unless it is registered already (a producer that
    /// starts before any silo). Returns the queue count in effect.
    /// </summary>
    public async Task<int> EnsureProviderAsync(string provider, int queueCount, CancellationToken cancellationToken = default)
    {
        PostgresLogStreamOptionsValidator.ValidateProviderName(provider);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCount, 1);
        await using var command = dataSource.CreateCommand(
            """
            WITH inserted AS (
                INSERT INTO embeddings_stream_providers (provider, queue_count) VALUES (@provider, @count)
                ON CONFLICT (provider) DO NOTHING RETURNING queue_count)
            SELECT queue_count FROM inserted UNION ALL SELECT queue_count FROM embeddings_stream_providers WHERE provider = @provider
            LIMIT 1
            """);
        command.Parameters.AddWithValue("provider", provider);
        command.Parameters.AddWithValue("count", queueCount);
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Appends events in one statement and returns their positions, in order.</summary>
    /// <exception cref="InvalidOperationException">The provider is not registered.</exception>
    public async Task<long[]> AppendAsync(string provider, IReadOnlyList<LogAppend> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return [];
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await AppendAsync(connection, null, provider, events, cancellationToken);
    }

    /// <summary>Appends events on the caller's connection and transaction (the transactional outbox from .NET).</summary>
    public async Task<long[]> AppendAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string provider, IReadOnlyList<LogAppend> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(events);
        var collections = new string[events.Count];
        var ids = new string[events.Count];
        var payloads = new byte[events.Count][];
        for (var i = 0; i < events.Count; i++)
        {
            collections[i] = events[i].Collection;
            ids[i] = events[i].Id;
            payloads[i] = events[i].Payload;
        }

        await using var command = new NpgsqlCommand(AppendSql, connection, transaction);
        command.Parameters.AddWithValue("provider", provider);
        command.Parameters.AddWithValue("collections", collections);
        command.Parameters.AddWithValue("ids", ids);
        command.Parameters.AddWithValue("payloads", payloads);
        var positions = new List<long>(events.Count);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                positions.Add(reader.GetInt64(0));
            }
        }

        if (positions.Count != events.Count)
        {
            throw new InvalidOperationException(
                $"Stream provider '{provider}' is not registered in embeddings_stream_providers: start a silo that hosts it once before publishing.");
        }

        return [.. positions];
    }

    /// <summary>Leases up to <paramref name="max"/> visible rows above <paramref name="floor"/> for <paramref name="visibility"/>.</summary>
    public async Task<IReadOnlyList<LeasedEvent>> LeaseAsync(
        string provider, int queue, Guid owner, long floor, int max, TimeSpan visibility, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(LeaseSql);
        command.Parameters.AddWithValue("provider", provider);
        command.Parameters.AddWithValue("queue", queue);
        command.Parameters.AddWithValue("floor", floor);
        command.Parameters.AddWithValue("max", max);
        command.Parameters.AddWithValue("visibility", visibility);
        command.Parameters.AddWithValue("owner", owner);
        var leased = new List<LeasedEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            leased.Add(new LeasedEvent(
                reader.GetInt64(0), reader.GetString(1), reader.GetString(2), (byte[])reader.GetValue(3), reader.GetInt32(4),
                reader.GetFieldValue<DateTimeOffset>(5), reader.IsDBNull(6) ? null : reader.GetString(6)));
        }

        // UPDATE ... RETURNING does not keep the candidates' order.
        leased.Sort(static (a, b) => a.Position.CompareTo(b.Position));
        return leased;
    }

    /// <summary>Acknowledges rows still leased by <paramref name="owner"/>; a stale lease acknowledges nothing. Returns the count acknowledged.</summary>
    public Task<int> AcknowledgeAsync(string provider, int queue, Guid owner, IReadOnlyCollection<long> positions, CancellationToken cancellationToken = default) =>
        ExecuteOnPositionsAsync(AckSql, provider, queue, owner, positions, null, cancellationToken);

    /// <summary>Extends the leases <paramref name="owner"/> holds on rows still in flight.</summary>
    public Task<int> ExtendLeasesAsync(
        string provider, int queue, Guid owner, IReadOnlyCollection<long> positions, TimeSpan visibility, CancellationToken cancellationToken = default) =>
        ExecuteOnPositionsAsync(ExtendSql, provider, queue, owner, positions, visibility, cancellationToken);

    /// <summary>
    /// Makes rows leased by <paramref name="owner"/> visible again at once, without counting the lease as an attempt
    /// (a receiver hands its queue over).
    /// </summary>
    public Task<int> ReleaseLeasesAsync(string provider, int queue, Guid owner, IReadOnlyCollection<long> positions, CancellationToken cancellationToken = default) =>
        ExecuteOnPositionsAsync(ReleaseSql, provider, queue, owner, positions, null, cancellationToken);

    /// <summary>
    /// Makes visible again, without counting an attempt, every row <paramref name="owner"/> holds a lease on but did not
    /// receive (all but <paramref name="received"/>): a lease statement that committed while its answer was lost with the
    /// connection. Without this those rows would wait for their lease to expire, and the events after them be delivered
    /// first. Returns the count made visible.
    /// </summary>
    public Task<int> ReclaimLeasesAsync(string provider, int queue, Guid owner, IReadOnlyCollection<long> received, CancellationToken cancellationToken = default) =>
        ExecuteWithPositionsAsync(ReclaimSql, provider, queue, owner, received, null, cancellationToken); // run even with none received

    /// <summary>
    /// Gives up the lease of a row whose delivery failed, recording why; it is read again after <paramref name="delay"/>
    /// (and dead-lettered once it has been leased more than the maximum number of times).
    /// </summary>
    public async Task<int> RetryLaterAsync(string provider, int queue, Guid owner, long position, string error, TimeSpan delay, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(RetrySql);
        command.Parameters.AddWithValue("provider", provider);
        command.Parameters.AddWithValue("queue", queue);
        command.Parameters.AddWithValue("owner", owner);
        command.Parameters.AddWithValue("positions", new[] { position });
        command.Parameters.AddWithValue("visibility", delay);
        command.Parameters.AddWithValue("error", error);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// The time the last unexpired lease held by another receiver on this queue runs out, or null when there is none.
    /// A receiver taking a queue over waits for it, so a document's older events are never overtaken by newer ones.
    /// </summary>
    public async Task<DateTimeOffset?> ForeignLeasesExpireAtAsync(string provider, int queue, Guid owner, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(ForeignLeasesSql);
        command.Parameters.AddWithValue("provider", provider);
        command.Parameters.AddWithValue("queue", queue);
        command.Parameters.AddWithValue("owner", owner);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is DateTime time ? new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Utc)) : null;
    }

    /// <summary>Moves rows to the dead-letter table with their reasons, acknowledging them in the same statement. Returns the count moved.</summary>
    public async Task<int> DeadLetterAsync(string provider, int queue, IReadOnlyList<(long Position, string Reason)> failures, CancellationToken cancellationToken = default)
    {
        if (failures.Count == 0)
        {
            return 0;
        }

        await using var command = dataSource.CreateCommand(DeadLetterSql);
        command.Parameters.AddWithValue("provider", provider);
        command.Parameters.AddWithValue("queue", queue);
        command.Parameters.AddWithValue("positions", failures.Select(f => f.Position).ToArray());
        command.Parameters.AddWithValue("reasons", failures.Select(f => f.Reason).ToArray());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Deletes up to <paramref name="max"/> rows of a queue acknowledged longer than <paramref name="retention"/> ago.</summary>
    public async Task<int> EvictAsync(string provider, int queue, TimeSpan retention, int max = 10_000, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(EvictSql);
        command.Parameters.AddWithValue("provider", provider);
        command.Parameters.AddWithValue("queue", queue);
        command.Parameters.AddWithValue("retention", retention);
        command.Parameters.AddWithValue("max", max);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The number of events of a provider not yet acknowledged (nor dead-lettered).</summary>
    public async Task<long> CountPendingAsync(string provider, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await CountPendingAsync(connection, null, provider, cancellationToken);
    }

    private static async Task<long> CountPendingAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string provider, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM embeddings_stream_log WHERE provider = @provider AND acked_at IS NULL", connection, transaction);
        command.Parameters.AddWithValue("provider", provider);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    // A statement on some of the owner's rows: with no positions it has nothing to do.
    private Task<int> ExecuteOnPositionsAsync(
        string sql, string provider, int queue, Guid owner, IReadOnlyCollection<long> positions, TimeSpan? visibility, CancellationToken cancellationToken) =>
        positions.Count == 0 ? Task.FromResult(0) : ExecuteWithPositionsAsync(sql, provider, queue, owner, positions, visibility, cancellationToken);

    private async Task<int> ExecuteWithPositionsAsync(
        string sql, string provider, int queue, Guid owner, IReadOnlyCollection<long> positions, TimeSpan? visibility, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.Parameters.AddWithValue("provider", provider);
        command.Parameters.AddWithValue("queue", queue);
        command.Parameters.AddWithValue("owner", owner);
        command.Parameters.Add(new NpgsqlParameter<long[]>("positions", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = [.. positions] });
        if (visibility is { } v)
        {
            command.Parameters.AddWithValue("visibility", v);
        }

        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>An event to append to the log: the key that picks its queue, and its raw payload.</summary>
/// <param name="Collection">The collection (stream namespace).</param>
/// <param name="Id">The document id.</param>
/// <param name="Payload">The event's bytes, normally UTF-8 JSON; not validated on the way in.</param>
public readonly record struct LogAppend(string Collection, string Id, byte[] Payload);

/// <summary>A row leased by a receiver.</summary>
public sealed record LeasedEvent(
    long Position, string Collection, string DocumentId, byte[] Payload, int Attempts, DateTimeOffset EnqueuedAt, string? LastError = null);
