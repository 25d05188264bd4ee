using System.Diagnostics;
using System.Globalization;
using Orleans.Embeddings.Client.Publishing;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Streaming.Tests.Delivery;

/// <summary>
/// The kill test with real processes: silo B is killed with SIGKILL, so nothing is released or flushed; its leases
/// (PostgreSQL) or uncommitted offsets (Kafka) are all the next owner has to go on.
/// </summary>
public sealed class SiloProcessCrashTests(MigratedPostgresDatabase database) : IClassFixture<MigratedPostgresDatabase>
{
    private const int Documents = 1000;
    private const int SeqsPerDocument = 10;

    [Theory]
    [InlineData("Postgres")]
    [InlineData("Kafka")]
    public async Task No_event_is_lost_or_reordered_when_a_silo_process_is_killed(string transport)
    {
        var ct = TestContext.Current.CancellationToken;
        var collection = $"crash-{transport.ToLowerInvariant()}-{Guid.NewGuid().ToString("N")[..6]}";
        await using (var create = database.DataSource.CreateCommand(
            "CREATE TABLE IF NOT EXISTS stream_test_deliveries (n bigserial PRIMARY KEY, collection text, id text, seq bigint, silo text)"))
        {
            await create.ExecuteNonQueryAsync(ct);
        }

        using var kafka = transport == "Kafka" ? KafkaMockCluster.Start() : null;
        kafka?.CreateTopic(collection, 8);
        var settings = new Dictionary<string, string>
        {
            ["Embeddings:Database:ConnectionString"] = database.ConnectionString,
            ["Embeddings:Streams:Transport"] = transport,
            ["Embeddings:Streams:ProviderName"] = "crash",
            ["Embeddings:Streams:Postgres:QueueCount"] = "8",
            ["Embeddings:Streams:Postgres:VisibilityTimeout"] = "00:00:05",
            ["Embeddings:Streams:Kafka:BootstrapServers"] = kafka?.BootstrapServers ?? string.Empty,
            ["Embeddings:Streams:Kafka:Topic"] = collection,
            ["Embeddings:Streams:Kafka:Partitions"] = "8",
            ["Embeddings:Streams:Kafka:ConsumerGroup"] = collection,
            ["Orleans:Membership:ProbeTimeout"] = "00:00:01",
            ["Orleans:Membership:NumMissedProbesLimit"] = "2",
        };
        var assembly = RepositoryPaths.TestExecutable("Orleans.Embeddings.Streaming.TestSilo");
        await using var a = SiloProcess.Start("A", settings, assembly);
        await a.WaitUntilReadyAsync(TimeSpan.FromSeconds(60), ct);
        var joining = new Dictionary<string, string>(settings) { ["Embeddings:Cluster:PrimarySiloPort"] = a.SiloPort.ToString(CultureInfo.InvariantCulture) };
        await using var b = SiloProcess.Start("B", joining, assembly);
        await b.WaitUntilReadyAsync(TimeSpan.FromSeconds(60), ct);

        await using IDocumentChangePublisher publisher = kafka is null
            ? new PostgresLogPublisher(database.DataSource, "crash")
            : new KafkaPublisher(kafka.BootstrapServers, collection);
        var clock = Stopwatch.StartNew();
        var publishing = Task.Run(async () =>
        {
            for (var seq = 1; seq <= SeqsPerDocument; seq++)
            {
                await publisher.PublishManyAsync(
                    [.. Enumerable.Range(0, Documents).Select(d => new DocumentChange(collection, $"doc-{d}", DocumentOperation.Upsert, seq, $"v{seq}", "{}"))], ct);
                await Task.Delay(300, ct);
            }
        }, ct);

        await WaitForDeliveriesAsync(collection, 2000, TimeSpan.FromSeconds(90), a, b);
        await b.KillAsync();
        var killedAt = clock.Elapsed;
        await WaitForDeliveriesAsync(collection, 6000, TimeSpan.FromSeconds(120), a, b);
        await using var c = SiloProcess.Start("C", joining, assembly);
        await c.WaitUntilReadyAsync(TimeSpan.FromSeconds(60), ct);
        await publishing;
        await WaitForDistinctAsync(collection, Documents * SeqsPerDocument, TimeSpan.FromSeconds(180), a, c);

        var deliveries = await ReadDeliveriesAsync(collection);
        foreach (var document in deliveries.GroupBy(d => d.Id))
        {
            var highest = 0L;
            foreach (var (_, seq) in document)
            {
                Assert.True(seq <= highest || seq == highest + 1, $"{document.Key}: seq {seq} arrived after {highest}");
                highest = Math.Max(highest, seq);
            }

            Assert.Equal(SeqsPerDocument, highest);
        }

        var line = $"{transport} (processes, SIGKILL at {killedAt.TotalSeconds:F1} s): {deliveries.Count} deliveries of {Documents * SeqsPerDocument} events, " +
            $"{deliveries.Count - Documents * SeqsPerDocument} duplicates, all consumed after {clock.Elapsed.TotalSeconds:F1} s";
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        File.AppendAllText(Path.Combine(AppContext.BaseDirectory, "stream-delivery.log"), $"{DateTime.UtcNow:O} {line}{Environment.NewLine}");
        var letters = await new Orleans.Embeddings.Streaming.DeadLetters.DeadLetterStore(database.DataSource).ListAsync("crash", cancellationToken: ct);
        Assert.DoesNotContain(letters, l => l.StreamKey?.StartsWith(collection + "/", StringComparison.Ordinal) == true);
    }

    private async Task<List<(string Id, long Seq)>> ReadDeliveriesAsync(string collection)
    {
        await using var command = database.DataSource.CreateCommand("SELECT id, seq FROM stream_test_deliveries WHERE collection = $1 ORDER BY n");
        command.Parameters.AddWithValue(collection);
        var deliveries = new List<(string, long)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            deliveries.Add((reader.GetString(0), reader.GetInt64(1)));
        }

        return deliveries;
    }

    private Task WaitForDeliveriesAsync(string collection, long count, TimeSpan timeout, params SiloProcess[] silos) =>
        WaitAsync("SELECT count(*) FROM stream_test_deliveries WHERE collection = $1", collection, count, timeout, silos);

    private Task WaitForDistinctAsync(string collection, long count, TimeSpan timeout, params SiloProcess[] silos) =>
        WaitAsync("SELECT count(*) FROM (SELECT DISTINCT id, seq FROM stream_test_deliveries WHERE collection = $1) d", collection, count, timeout, silos);

    private async Task WaitAsync(string sql, string collection, long count, TimeSpan timeout, SiloProcess[] silos)
    {
        var deadline = DateTime.UtcNow + timeout;
        long seen = 0;
        while (DateTime.UtcNow < deadline)
        {
            await using var command = database.DataSource.CreateCommand(sql);
            command.Parameters.AddWithValue(collection);
            seen = (long)(await command.ExecuteScalarAsync())!;
            if (seen >= count)
            {
                return;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"{seen} of {count} after {timeout}.\n" + string.Join("\n", silos.Select(s => $"--- {s.Name}:\n{s.Output}")));
    }
}
