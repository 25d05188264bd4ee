using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Embeddings.Storage;
using Orleans.Embeddings.Streaming.Delivery;
using Orleans.Embeddings.Streaming.PostgresLog;
using Orleans.Embeddings.Testing;
using Orleans.Streams;

namespace Orleans.Embeddings.Streaming.Tests.PostgresLog;

/// <summary>
/// A receiver with the append signal on a real PostgreSQL: a drained queue costs no query until the log's trigger
/// says something was appended to it, and a lost listening connection falls back to querying without losing events.
/// </summary>
public sealed class PostgresLogReceiverTests(MigratedPostgresDatabase database) : IClassFixture<MigratedPostgresDatabase>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);
    private readonly PostgresLogStore _store = new(database.DataSource);

    // No rescan during a test: only a notification (or the fallback) may make a drained receiver query again.
    private readonly PostgresLogStreamOptions _options = new() { QueueCount = 2, RescanInterval = TimeSpan.FromHours(1) };

    [Fact]
    public async Task A_drained_queue_is_queried_again_only_after_an_append_to_that_queue_commits()
    {
        var provider = await RegisterAsync();
        var signal = new PostgresLogAppendSignal(database.DataSource, provider, NullLogger.Instance);
        var (first, second) = (Receiver(provider, 0, signal), Receiver(provider, 1, signal));
        await first.Initialize(Patience);
        await second.Initialize(Patience);
        try
        {
            await WaitUntilAsync(() => signal.IsListening, "the signal to listen");
            Assert.Empty(await first.GetQueueMessagesAsync(100, Ct));
            Assert.Empty(await second.GetQueueMessagesAsync(100, Ct));
            for (var i = 0; i < 5; i++)
            {
                Assert.Empty(await first.GetQueueMessagesAsync(100, Ct));
            }

            Assert.Equal(1, first.Queries);

            // An append to the other queue wakes that queue's receiver only.
            await _store.AppendAsync(provider, [await AppendToQueueAsync(provider, 1, "b")], Ct);
            Assert.Single(await PullUntilAnyAsync(second));
            Assert.Empty(await first.GetQueueMessagesAsync(100, Ct));
            Assert.Equal(1, first.Queries);

            // A producer's own transaction (the outbox function) notifies when it commits, not before.
            var change = await AppendToQueueAsync(provider, 0, "a");
            await using (var connection = await database.DataSource.OpenConnectionAsync(Ct))
            await using (var transaction = await connection.BeginTransactionAsync(Ct))
            {
                await using (var publish = new Npgsql.NpgsqlCommand("SELECT embeddings_stream_publish($1, $2::jsonb)", connection, transaction))
                {
                    publish.Parameters.AddWithValue(provider);
                    publish.Parameters.AddWithValue(Encoding.UTF8.GetString(change.Payload));
                    await publish.ExecuteScalarAsync(Ct);
                }

                await Task.Delay(300, Ct);
                Assert.Empty(await first.GetQueueMessagesAsync(100, Ct));
                Assert.Equal(1, first.Queries);
                await transaction.CommitAsync(Ct);
            }

            var delivered = Assert.Single(await PullUntilAnyAsync(first));
            Assert.Equal(DocumentStreams.StreamId(change.Collection, change.Id), delivered.StreamId);
            Assert.Equal(2, first.Queries);
        }
        finally
        {
            await first.Shutdown(Patience);
            await second.Shutdown(Patience);
        }

        Assert.False(signal.IsListening);
    }

    [Fact]
    public async Task Losing_the_listening_connection_falls_back_to_querying_and_loses_no_event()
    {
        var provider = await RegisterAsync();
        var signal = new PostgresLogAppendSignal(database.DataSource, provider, NullLogger.Instance);
        var receiver = Receiver(provider, 0, signal);
        await receiver.Initialize(Patience);
        try
        {
            await WaitUntilAsync(() => signal.IsListening, "the signal to listen");
            Assert.Empty(await receiver.GetQueueMessagesAsync(100, Ct));
            Assert.Empty(await receiver.GetQueueMessagesAsync(100, Ct));
            Assert.Equal(1, receiver.Queries);

            // The server ends the listening session; an event appended meanwhile has no notification anyone hears.
            await using (var terminate = database.DataSource.CreateCommand(
                $"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%LISTEN {PostgresLogAppendSignal.Channel}%'"))
            {
                Assert.Equal(1L, await terminate.ExecuteScalarAsync(Ct));
            }

            await _store.AppendAsync(provider, [await AppendToQueueAsync(provider, 0, "lost")], Ct);

            Assert.Single(await PullUntilAnyAsync(receiver));
            await WaitUntilAsync(() => signal.IsListening, "the signal to listen again");
        }
        finally
        {
            await receiver.Shutdown(Patience);
        }
    }

    [Fact]
    public async Task An_acknowledgement_that_fails_is_made_at_the_next_pull_and_its_event_is_not_delivered_again()
    {
        var provider = await RegisterAsync();
        // A receiver whose statements give up on a locked row at once, so the test can make its acknowledgement fail the
        // way it does while PostgreSQL restarts.
        await using var impatient = RowLock.ImpatientDataSource(database.ConnectionString);
        var receiver = new PostgresLogReceiver(provider, 0, new PostgresLogStore(impatient), _options, NullLogger.Instance);
        await receiver.Initialize(Patience);
        try
        {
            await _store.AppendAsync(provider, [await AppendToQueueAsync(provider, 0, "ack")], Ct);
            var batch = await receiver.GetQueueMessagesAsync(100, Ct);
            Assert.Single(batch);

            await using (await RowLock.TakeAsync(database.DataSource, "SELECT 1 FROM embeddings_stream_log WHERE provider = $1 FOR UPDATE", provider, Ct))
            {
                await Assert.ThrowsAsync<Npgsql.PostgresException>(() => receiver.MessagesDeliveredAsync(batch, Ct));
            }

            Assert.Empty(await receiver.GetQueueMessagesAsync(100, Ct));
            await using var row = database.DataSource.CreateCommand("SELECT acked_at IS NOT NULL, attempts FROM embeddings_stream_log WHERE provider = $1");
            row.Parameters.AddWithValue(provider);
            await using var reader = await row.ExecuteReaderAsync(Ct);
            Assert.True(await reader.ReadAsync(Ct));
            Assert.True(reader.GetBoolean(0), "the event delivered before the failed acknowledgement was never acknowledged");
            Assert.Equal(1, reader.GetInt32(1));
        }
        finally
        {
            await receiver.Shutdown(Patience);
        }
    }

    [Fact]
    public async Task A_receiver_whose_start_failed_still_waits_for_the_previous_owners_leases()
    {
        var provider = await RegisterAsync();
        var first = await AppendToQueueAsync(provider, 0, "first");
        await _store.AppendAsync(provider, [first], Ct);
        var previousOwner = Guid.NewGuid();
        var held = Assert.Single(await _store.LeaseAsync(provider, 0, previousOwner, 0, 10, TimeSpan.FromHours(1), Ct));
        await _store.AppendAsync(provider, [await AppendToQueueAsync(provider, 0, "second")], Ct);

        // The receiver's start fails on the database (here a locked row and an impatient connection; in production the
        // server restarting while the queue changes owner), and Orleans pulls from it all the same.
        await using var impatient = RowLock.ImpatientDataSource(database.ConnectionString);
        var receiver = new PostgresLogReceiver(provider, 0, new PostgresLogStore(impatient), _options, NullLogger.Instance);
        await using (await RowLock.TakeAsync(database.DataSource, "SELECT 1 FROM embeddings_stream_providers WHERE provider = $1 FOR UPDATE", provider, Ct))
        {
            try
            {
                await receiver.Initialize(Patience);
            }
            catch (Npgsql.PostgresException)
            {
                // what Orleans does with a failed Initialize: log it and pull anyway
            }
        }

        try
        {
            // The second event waits while the previous owner may still deliver the first.
            Assert.Empty(await receiver.GetQueueMessagesAsync(100, Ct));
            await _store.ReleaseLeasesAsync(provider, 0, previousOwner, [held.Position], Ct);
            var batch = await PullUntilAnyAsync(receiver);
            Assert.Equal(2, batch.Count);
            Assert.Equal(DocumentStreams.StreamId(first.Collection, first.Id), batch[0].StreamId);
        }
        finally
        {
            await receiver.Shutdown(Patience);
        }
    }

    [Fact]
    public async Task Rows_leased_by_a_statement_whose_answer_was_lost_are_given_back_at_the_next_pull_in_order()
    {
        var provider = await RegisterAsync();
        await using var connections = EmbeddingsDataSource.Create(
            new Npgsql.NpgsqlConnectionStringBuilder(database.ConnectionString) { ApplicationName = provider }.ConnectionString);
        var receiver = new PostgresLogReceiver(provider, 0, new PostgresLogStore(connections), _options, NullLogger.Instance);
        await receiver.Initialize(Patience);
        try
        {
            var first = await AppendToQueueAsync(provider, 0, "first");
            await _store.AppendAsync(provider, [first, await AppendToQueueAsync(provider, 0, "second")], Ct);

            // A lease statement of this receiver committed, and its answer was lost with the connection: the rows are
            // leased in its name, and it never got them.
            Assert.Equal(2, (await _store.LeaseAsync(provider, 0, receiver.Owner, 0, 10, TimeSpan.FromHours(1), Ct)).Count);
            await using (var terminate = database.DataSource.CreateCommand("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1"))
            {
                terminate.Parameters.AddWithValue(provider);
                Assert.True((long)(await terminate.ExecuteScalarAsync(Ct))! > 0);
            }

            var lost = await Assert.ThrowsAnyAsync<Exception>(() => receiver.GetQueueMessagesAsync(100, Ct));
            Assert.True(PostgresFailures.IsConnectionLoss(lost), lost.ToString());

            // The next pull gives them back and leases them again, first things first, without counting an attempt.
            var batch = await PullUntilAnyAsync(receiver);
            Assert.Equal(2, batch.Count);
            Assert.Equal(DocumentStreams.StreamId(first.Collection, first.Id), batch[0].StreamId);
            await using var attempts = database.DataSource.CreateCommand("SELECT max(attempts) FROM embeddings_stream_log WHERE provider = $1");
            attempts.Parameters.AddWithValue(provider);
            Assert.Equal(1, await attempts.ExecuteScalarAsync(Ct));
        }
        finally
        {
            await receiver.Shutdown(Patience);
        }
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<IList<IBatchContainer>> PullUntilAnyAsync(PostgresLogReceiver receiver)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Patience)
        {
            var batch = await receiver.GetQueueMessagesAsync(100, Ct);
            if (batch.Count > 0)
            {
                await receiver.MessagesDeliveredAsync(batch, Ct);
                return batch;
            }

            await Task.Delay(50, Ct);
        }

        throw new TimeoutException($"Queue {receiver.Queue} delivered nothing within {Patience}.");
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Patience)
            {
                throw new TimeoutException($"Waited {Patience} for {what}.");
            }

            await Task.Delay(20, Ct);
        }
    }

    private PostgresLogReceiver Receiver(string provider, int queue, PostgresLogAppendSignal signal) =>
        new(provider, queue, _store, _options, NullLogger.Instance, signal);

    // A change to a document of collection "docs" whose id starts with prefix and that hashes to the queue.
    private async Task<LogAppend> AppendToQueueAsync(string provider, int queue, string prefix)
    {
        for (var i = 0; ; i++)
        {
            var id = i == 0 ? prefix : $"{prefix}{i}";
            await using var command = database.DataSource.CreateCommand("SELECT embeddings_stream_queue($1, 'docs', $2)");
            command.Parameters.AddWithValue(provider);
            command.Parameters.AddWithValue(id);
            if ((int)(await command.ExecuteScalarAsync(Ct))! == queue)
            {
                return new LogAppend("docs", id, Encoding.UTF8.GetBytes($"{{\"collection\":\"docs\",\"id\":\"{id}\",\"op\":\"upsert\",\"content\":\"t\"}}"));
            }
        }
    }

    private async Task<string> RegisterAsync()
    {
        var provider = "p" + Guid.NewGuid().ToString("N")[..10];
        await _store.RegisterProviderAsync(provider, _options.QueueCount, Ct);
        return provider;
    }
}
