using System.Text;
using Npgsql;
using Orleans.Embeddings.Streaming.PostgresLog;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Streaming.Tests.PostgresLog;

/// <summary>The log's SQL on a real PostgreSQL: partitioning, leases, acknowledgement under the lease, dead letters, eviction, outbox.</summary>
public sealed class PostgresLogStoreTests(MigratedPostgresDatabase database) : IClassFixture<MigratedPostgresDatabase>
{
    private static readonly TimeSpan Visibility = TimeSpan.FromSeconds(30);
    private readonly PostgresLogStore _store = new(database.DataSource);

    [Fact]
    public async Task Every_event_of_a_document_lands_in_one_queue_the_one_the_sql_function_names()
    {
        var provider = await RegisterAsync(8);
        var positions = await _store.AppendAsync(provider, [.. Enumerable.Range(0, 50).Select(i => Append("docs", $"d{i % 5}", i))], Ct);
        Assert.Equal(50, positions.Length);
        Assert.True(positions.SequenceEqual(positions.Order()));

        await using var command = database.DataSource.CreateCommand(
            "SELECT document_id, count(DISTINCT queue_id), bool_and(embeddings_stream_queue(provider, collection, document_id) = queue_id)::int FROM embeddings_stream_log WHERE provider = $1 GROUP BY document_id");
        command.Parameters.AddWithValue(provider);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var documents = 0;
        while (await reader.ReadAsync(Ct))
        {
            documents++;
            Assert.Equal(1L, reader.GetInt64(1));
            Assert.Equal(1, reader.GetInt32(2));
        }

        Assert.Equal(5, documents);
    }

    [Fact]
    public async Task A_leased_row_is_invisible_and_only_its_lease_holder_can_acknowledge_it()
    {
        var provider = await RegisterAsync(1);
        await _store.AppendAsync(provider, [Append("docs", "a", 1), Append("docs", "b", 2)], Ct);
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();

        var leased = await _store.LeaseAsync(provider, 0, first, 0, 10, Visibility, Ct);
        Assert.Equal(2, leased.Count);
        Assert.All(leased, l => Assert.Equal(1, l.Attempts));
        Assert.Empty(await _store.LeaseAsync(provider, 0, second, 0, 10, Visibility, Ct));
        Assert.NotNull(await _store.ForeignLeasesExpireAtAsync(provider, 0, second, Ct));
        Assert.Null(await _store.ForeignLeasesExpireAtAsync(provider, 0, first, Ct));

        Assert.Equal(0, await _store.AcknowledgeAsync(provider, 0, second, [leased[0].Position], Ct));
        Assert.Equal(1, await _store.AcknowledgeAsync(provider, 0, first, [leased[0].Position], Ct));
        Assert.Equal(1, await _store.CountPendingAsync(provider, Ct));

        // A handover gives the row back without counting an attempt.
        Assert.Equal(1, await _store.ReleaseLeasesAsync(provider, 0, first, [leased[1].Position], Ct));
        var again = Assert.Single(await _store.LeaseAsync(provider, 0, second, 0, 10, Visibility, Ct));
        Assert.Equal(leased[1].Position, again.Position);
        Assert.Equal(1, again.Attempts);
    }

    [Fact]
    public async Task An_expired_lease_makes_the_row_visible_again_with_one_more_attempt()
    {
        var provider = await RegisterAsync(1);
        await _store.AppendAsync(provider, [Append("docs", "a", 1)], Ct);
        var crashed = Guid.NewGuid();
        Assert.Single(await _store.LeaseAsync(provider, 0, crashed, 0, 10, TimeSpan.FromMilliseconds(200), Ct));
        await Task.Delay(400, Ct);

        var taken = Assert.Single(await _store.LeaseAsync(provider, 0, Guid.NewGuid(), 0, 10, Visibility, Ct));
        Assert.Equal(2, taken.Attempts);
        Assert.Equal(0, await _store.AcknowledgeAsync(provider, 0, crashed, [taken.Position], Ct));
    }

    [Fact]
    public async Task Dead_lettering_moves_the_row_with_its_payload_position_attempts_and_reason()
    {
        var provider = await RegisterAsync(1);
        var payload = Encoding.UTF8.GetBytes("{not json");
        var position = Assert.Single(await _store.AppendAsync(provider, [new LogAppend("docs", "bad", payload)], Ct));
        await _store.LeaseAsync(provider, 0, Guid.NewGuid(), 0, 10, Visibility, Ct);

        Assert.Equal(1, await _store.DeadLetterAsync(provider, 0, [(position, "the event is not valid JSON")], Ct));
        Assert.Equal(0, await _store.DeadLetterAsync(provider, 0, [(position, "again")], Ct));
        Assert.Equal(0, await _store.CountPendingAsync(provider, Ct));
        var letter = Assert.Single(await new Orleans.Embeddings.Streaming.DeadLetters.DeadLetterStore(database.DataSource).ListAsync(provider, cancellationToken: Ct));
        Assert.Equal((position, "docs/bad", 1, "the event is not valid JSON"), (letter.Position, letter.StreamKey, letter.Attempts, letter.Reason));
        Assert.Equal(payload, letter.Payload);
    }

    [Fact]
    public async Task Eviction_deletes_only_rows_acknowledged_longer_ago_than_the_retention()
    {
        var provider = await RegisterAsync(1);
        var positions = await _store.AppendAsync(provider, [Append("docs", "a", 1), Append("docs", "b", 2), Append("docs", "c", 3)], Ct);
        var owner = Guid.NewGuid();
        await _store.LeaseAsync(provider, 0, owner, 0, 10, Visibility, Ct);
        await _store.AcknowledgeAsync(provider, 0, owner, [positions[0], positions[1]], Ct);

        Assert.Equal(0, await _store.EvictAsync(provider, 0, TimeSpan.FromHours(1), cancellationToken: Ct));
        Assert.Equal(2, await _store.EvictAsync(provider, 0, TimeSpan.Zero, cancellationToken: Ct));
        Assert.Equal(1, await _store.CountPendingAsync(provider, Ct));
    }

    [Fact]
    public async Task The_outbox_function_publishes_inside_the_producers_transaction()
    {
        var provider = await RegisterAsync(4);
        await using (var connection = await database.DataSource.OpenConnectionAsync(Ct))
        {
            await using var rolledBack = await connection.BeginTransactionAsync(Ct);
            await Publish(connection, provider, """{"collection":"docs","id":"x","op":"upsert","content":"never"}""");
            await rolledBack.RollbackAsync(Ct);

            await using var committed = await connection.BeginTransactionAsync(Ct);
            await Publish(connection, provider, """{"collection":"docs","id":"y","op":"upsert","content":"kept"}""");
            await committed.CommitAsync(Ct);
        }

        Assert.Equal(1, await _store.CountPendingAsync(provider, Ct));
        await using var bad = database.DataSource.CreateCommand("SELECT embeddings_stream_publish($1, '{\"op\":\"upsert\"}'::jsonb)");
        bad.Parameters.AddWithValue(provider);
        var error = await Assert.ThrowsAsync<PostgresException>(() => bad.ExecuteScalarAsync(Ct));
        Assert.Contains("\"collection\" and \"id\"", error.MessageText, StringComparison.Ordinal);

        await using var unknown = database.DataSource.CreateCommand("SELECT embeddings_stream_publish('no-such-provider', 'docs', 'a', '\\x00'::bytea)");
        error = await Assert.ThrowsAsync<PostgresException>(() => unknown.ExecuteScalarAsync(Ct));
        Assert.Contains("no-such-provider", error.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_queue_count_cannot_change_while_events_are_pending()
    {
        var provider = await RegisterAsync(4);
        await _store.RegisterProviderAsync(provider, 4, Ct);
        await _store.AppendAsync(provider, [Append("docs", "a", 1)], Ct);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => _store.RegisterProviderAsync(provider, 8, Ct));
        Assert.Contains("1 unacknowledged", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Appending_to_an_unregistered_provider_names_it()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => _store.AppendAsync("never-registered", [Append("docs", "a", 1)], Ct));
        Assert.Contains("never-registered", error.Message, StringComparison.Ordinal);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static LogAppend Append(string collection, string id, int seq) =>
        new(collection, id, Encoding.UTF8.GetBytes($"{{\"collection\":\"{collection}\",\"id\":\"{id}\",\"op\":\"upsert\",\"seq\":{seq},\"content\":\"t\"}}"));

    private static async Task Publish(NpgsqlConnection connection, string provider, string json)
    {
        await using var command = new NpgsqlCommand("SELECT embeddings_stream_publish($1, $2::jsonb)", connection);
        command.Parameters.AddWithValue(provider);
        command.Parameters.AddWithValue(json);
        await command.ExecuteScalarAsync(Ct);
    }

    private async Task<string> RegisterAsync(int queues)
    {
        var provider = "p" + Guid.NewGuid().ToString("N")[..10];
        await _store.RegisterProviderAsync(provider, queues, Ct);
        return provider;
    }
}
