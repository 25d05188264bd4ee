using System.Diagnostics;
using System.Text;
using Npgsql;
using Orleans.Embeddings.Client.Publishing;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Streaming.DeadLetters;
using Orleans.Embeddings.Streaming.Tests.Consumers;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Embeddings.Streaming.Delivery;
using Orleans.Hosting;
using Orleans.Streams;
using Orleans.TestingHost;

namespace Orleans.Embeddings.Streaming.Tests.Delivery;

/// <summary>
/// The delivery guarantees every transport must keep, run against a real two-silo cluster: at-least-once with a
/// silo killed mid-stream, per-document order, and bad input dead-lettered without blocking its partition.
/// </summary>
public abstract class StreamDeliveryScenarios
{
    /// <summary>Documents in the kill test; each gets <see cref="SeqsPerDocument"/> changes.</summary>
    protected const int Documents = 1000;

    /// <summary>Changes per document in the kill test.</summary>
    protected const int SeqsPerDocument = 10;

    /// <summary>The content limit the providers are configured with, so an oversize event is cheap to make.</summary>
    protected const int MaxContentBytes = 4096;

    /// <summary>The provider name.</summary>
    protected abstract string Provider { get; }

    /// <summary>The database holding dead letters (and the log, for PostgreSQL).</summary>
    protected abstract NpgsqlDataSource DataSource { get; }

    /// <summary>Registers the provider on a silo with <see cref="MaxContentBytes"/> and the given MaxEventDeliveryTime.</summary>
    protected abstract void AddStreams(ISiloBuilder silo, TimeSpan maxEventDeliveryTime);

    /// <summary>A publisher to the transport.</summary>
    protected abstract IDocumentChangePublisher CreatePublisher();

    /// <summary>10k events over 8 partitions on 2 silos; silo B is killed mid-stream and a new silo joins later.</summary>
    [Fact]
    public async Task Every_event_is_consumed_in_document_order_when_a_silo_is_killed_mid_stream()
    {
        var collection = "kill-" + Guid.NewGuid().ToString("N")[..8];

        // Calls to consumers on the dead silo fail until membership declares it dead; the default delivery time rides that out.
        await using var cluster = await StreamTestCluster.StartAsync(DataSource, silo => AddStreams(silo, TimeSpan.FromMinutes(1)));
        await using var publisher = CreatePublisher();
        var clock = Stopwatch.StartNew();

        // The producer keeps publishing, one change per document every 150 ms, while silo B is killed and a new silo joins.
        var publishing = Task.Run(async () =>
        {
            for (var seq = 1; seq <= SeqsPerDocument; seq++)
            {
                var round = Enumerable.Range(0, Documents)
                    .Select(d => new DocumentChange(collection, $"doc-{d}", DocumentOperation.Upsert, seq, $"text {d} v{seq}", "{}"))
                    .ToList();
                await publisher.PublishManyAsync(round, TestContext.Current.CancellationToken);
                await Task.Delay(150, TestContext.Current.CancellationToken);
            }
        }, TestContext.Current.CancellationToken);

        await DeliveryLog.WaitForAsync(collection, d => d.Count >= 2000, TimeSpan.FromSeconds(60), "2000 deliveries before the kill");
        var atKill = DeliveryLog.Of(collection).Count;
        await cluster.KillSiloAsync(cluster.Silos[1], TestContext.Current.CancellationToken);
        Report($"{Provider}: killed silo B at {clock.Elapsed.TotalSeconds:F1} s with {atKill} deliveries");
        await DeliveryLog.WaitForAsync(collection, d => d.Count >= 6000, TimeSpan.FromSeconds(120), "6000 deliveries before a new silo joins");
        await cluster.StartAdditionalSiloAsync();
        Report($"{Provider}: a new silo joined at {clock.Elapsed.TotalSeconds:F1} s");
        await publishing;

        await DeliveryLog.WaitForAsync(collection, _ => DeliveryLog.DistinctCount(collection) == Documents * SeqsPerDocument, TimeSpan.FromSeconds(180), "every event");

        var deliveries = DeliveryLog.Of(collection);
        foreach (var document in deliveries.GroupBy(d => d.Id))
        {
            // Redelivery after the crash may repeat older changes, but a new seq never arrives after a higher one.
            var highest = 0L;
            foreach (var seq in document.Select(d => d.Seq!.Value))
            {
                Assert.True(seq <= highest || seq == highest + 1, $"{document.Key}: seq {seq} arrived after {highest}");
                highest = Math.Max(highest, seq);
            }

            Assert.Equal(SeqsPerDocument, highest);
        }

        var duplicates = deliveries.Count - Documents * SeqsPerDocument;
        Report(
            $"{Provider}: {deliveries.Count} deliveries of {Documents * SeqsPerDocument} events, {duplicates} duplicates after the kill, {clock.Elapsed.TotalSeconds:F1} s");
        var letters = await new DeadLetterStore(DataSource).ListAsync(Provider, cancellationToken: TestContext.Current.CancellationToken);
        Assert.DoesNotContain(letters, l => l.StreamKey?.StartsWith(collection + "/", StringComparison.Ordinal) == true);
    }

    /// <summary>Publishing through the Orleans stream API appends to the same log and reaches the consumer.</summary>
    [Fact]
    public async Task Changes_published_through_the_orleans_stream_api_are_consumed()
    {
        var collection = "api-" + Guid.NewGuid().ToString("N")[..8];
        await using var cluster = await StreamTestCluster.StartAsync(DataSource, silo => AddStreams(silo, TimeSpan.FromSeconds(10)), silos: 1);
        var provider = cluster.Silos[0].SiloHost.Services.GetRequiredKeyedService<IStreamProvider>(Provider);
        for (var seq = 1; seq <= 3; seq++)
        {
            var change = new DocumentChange(collection, "via-api", DocumentOperation.Upsert, seq, $"v{seq}", "{}");
            await provider.GetStream<DocumentChange>(DocumentStreams.StreamId(collection, "via-api")).OnNextAsync(change);
        }

        await DeliveryLog.WaitForAsync(collection, d => d.Count >= 3, TimeSpan.FromSeconds(30), "the three changes");
        Assert.Equal([1L, 2L, 3L], DeliveryLog.Of(collection).Select(d => d.Seq!.Value));
        var wrongStream = provider.GetStream<DocumentChange>(DocumentStreams.StreamId(collection, "other"));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => wrongStream.OnNextAsync(new DocumentChange(collection, "via-api", DocumentOperation.Delete, 4, null, "{}")));
    }

    // The figures go to the test output and to stream-delivery.log beside the test binaries (passing tests' output is not shown).
    private static void Report(string line)
    {
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        File.AppendAllText(Path.Combine(AppContext.BaseDirectory, "stream-delivery.log"), $"{DateTime.UtcNow:O} {line}{Environment.NewLine}");
    }

    /// <summary>Each kind of bad event lands in dead letters with its reason; the events after it are still delivered.</summary>
    [Fact]
    public async Task Bad_events_are_dead_lettered_with_a_reason_and_the_partition_moves_on()
    {
        var collection = "bad-" + Guid.NewGuid().ToString("N")[..8];
        await using var cluster = await StreamTestCluster.StartAsync(DataSource, silo => AddStreams(silo, TimeSpan.FromSeconds(3)));
        await using var publisher = CreatePublisher();
        var ct = TestContext.Current.CancellationToken;

        byte[] Json(string json) => Encoding.UTF8.GetBytes(json);
        var bad = new (string Id, byte[] Payload, string Reason)[]
        {
            ("malformed", Json("{\"collection\":\"" + collection + "\",\"id\":\"malformed\",\"op\":"), "not valid JSON"),
            ("unknown-op", Json($"{{\"collection\":\"{collection}\",\"id\":\"unknown-op\",\"op\":\"merge\",\"content\":\"x\"}}"), "\"op\" must be"),
            ("missing-id", Json($"{{\"collection\":\"{collection}\",\"op\":\"upsert\",\"content\":\"x\"}}"), "\"id\" is missing"),
            ("oversize", Json($"{{\"collection\":\"{collection}\",\"id\":\"oversize\",\"op\":\"upsert\",\"content\":\"{new string('x', MaxContentBytes + 1)}\"}}"), "\"content\" is larger than"),
            ("bad-utf8", [.. Json($"{{\"collection\":\"{collection}\",\"id\":\"bad-utf8\",\"op\":\"upsert\",\"content\":\""), 0xC3, 0x28, .. Json("\"}")], "not valid UTF-8"),
            ("consumer-fails", Json($"{{\"collection\":\"{collection}\",\"id\":\"consumer-fails\",\"op\":\"upsert\",\"seq\":1,\"content\":\"{RecordingConsumerGrain.FailingContent}\"}}"), "failed on every delivery"),
        };

        // Every bad event is followed by a good one for the same document, which lands in the same partition.
        foreach (var (id, payload, _) in bad)
        {
            await publisher.PublishRawAsync(collection, id, payload, ct);
            await publisher.PublishAsync(new DocumentChange(collection, id, DocumentOperation.Upsert, 2, "good after bad", "{}"), ct);
        }

        await DeliveryLog.WaitForAsync(collection, d => d.Count >= bad.Length, TimeSpan.FromSeconds(90), "the good events after the bad ones");
        Assert.Equal(bad.Select(b => b.Id).Order(), DeliveryLog.Of(collection).Select(d => d.Id).Order());
        Assert.All(DeliveryLog.Of(collection), d => Assert.Equal("good after bad", d.Content));

        var deadLetters = new DeadLetterStore(DataSource);
        IReadOnlyList<DeadLetter> letters = [];
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            letters = (await deadLetters.ListAsync(Provider, cancellationToken: ct)).Where(l => l.StreamKey?.Contains(collection, StringComparison.Ordinal) == true).ToList();
            if (letters.Count >= bad.Length)
            {
                break;
            }

            await Task.Delay(200, ct);
        }

        foreach (var (id, payload, reason) in bad)
        {
            var letter = Assert.Single(letters, l => l.StreamKey == $"{collection}/{id}");
            Assert.Contains(reason, letter.Reason, StringComparison.Ordinal);
            Assert.Equal(payload, letter.Payload);
        }
    }

    /// <summary>
    /// Fuzzed bad events (random bytes, truncated and deeply nested JSON, huge ids and metadata, wrong types, invalid UTF-8,
    /// NUL) are each dead-lettered with a reason and their raw payload, the good event after each is delivered, and valid
    /// events full of SQL fragments and odd characters are delivered as data.
    /// </summary>
    [Fact]
    public async Task Fuzzed_events_are_dead_lettered_and_the_good_ones_around_them_delivered()
    {
        var collection = "fuzz-" + Guid.NewGuid().ToString("N")[..8];
        await using var cluster = await StreamTestCluster.StartAsync(DataSource, silo => AddStreams(silo, TimeSpan.FromSeconds(3)));
        await using var publisher = CreatePublisher();
        var ct = TestContext.Current.CancellationToken;
        var random = new Random(1807);
        var bad = Enumerable.Range(0, 64).Select(i => (Id: $"b{i}", Payload: FuzzedEvent(random, collection, $"b{i}", i))).ToList();
        string[] fragments = ["'; DROP TABLE embeddings_documents; --", "\" OR 1=1 --", "$(rm -rf /)", "<script>alert(1)</script>", "日本語 🙂", "\\u0000 is not NUL", "{{{{[[[["];
        var odd = fragments.Select((f, i) => new DocumentChange(collection, $"sql{i}", DocumentOperation.Upsert, 1, f, System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { [f] = f }))).ToList();

        foreach (var (id, payload) in bad)
        {
            await publisher.PublishRawAsync(collection, id, payload, ct);
            await publisher.PublishAsync(new DocumentChange(collection, id, DocumentOperation.Upsert, 2, "good after bad", "{}"), ct);
        }

        await publisher.PublishManyAsync(odd, ct);

        await DeliveryLog.WaitForAsync(collection, d => d.Count >= bad.Count + odd.Count, TimeSpan.FromSeconds(120), "the good events around the fuzzed ones");
        var delivered = DeliveryLog.Of(collection);
        Assert.Equal(bad.Select(b => b.Id).Concat(odd.Select(o => o.Id)).Order(), delivered.Select(d => d.Id).Distinct().Order());
        Assert.All(delivered.Where(d => d.Id.StartsWith('b')), d => Assert.Equal("good after bad", d.Content));
        Assert.All(odd, o => Assert.Contains(delivered, d => d.Id == o.Id && d.Content == o.Content && d.MetadataJson == o.MetadataJson));

        // Dead-lettering is at-least-once like delivery: wait for every id, and accept one recorded twice.
        var deadLetters = new DeadLetterStore(DataSource);
        IReadOnlyList<DeadLetter> letters = [];
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            letters = (await deadLetters.ListAsync(Provider, limit: 1000, cancellationToken: ct)).Where(l => l.StreamKey?.Contains(collection, StringComparison.Ordinal) == true).ToList();
            if (bad.All(b => letters.Any(l => l.StreamKey == $"{collection}/{b.Id}")))
            {
                break;
            }

            await Task.Delay(200, ct);
        }

        foreach (var (id, payload) in bad)
        {
            var mine = letters.Where(l => l.StreamKey == $"{collection}/{id}").ToList();
            Assert.True(mine.Count > 0, $"{id} was not dead-lettered within 90 s");
            Assert.All(mine, letter =>
            {
                Assert.False(string.IsNullOrWhiteSpace(letter.Reason), $"{id} was dead-lettered without a reason");
                Assert.Equal(payload, letter.Payload);
            });
        }

        Report($"fuzz over {Provider}: {bad.Count} bad events dead-lettered ({string.Join("; ", letters.GroupBy(l => l.Reason.Split(':')[0]).Select(g => $"{g.Count()} x {g.Key}"))}), {delivered.Count} good deliveries");
    }

    private static string WithMetadata(string collection, string id, string metadataJson) =>
        $$"""{"collection":"{{collection}}","id":"{{id}}","op":"upsert","content":"x","metadata":""" + metadataJson + "}";

    // One bad event of eight kinds in turn, for document id under collection.
    private byte[] FuzzedEvent(Random random, string collection, string id, int i)
    {
        var valid = $$"""{"collection":"{{collection}}","id":"{{id}}","op":"upsert","seq":1,"content":"fuzzed content {{i}}"}""";
        switch (i % 8)
        {
            case 0:
                var bytes = new byte[random.Next(1, 2048)];
                random.NextBytes(bytes);
                bytes[0] = (byte)'{'; // an object that never closes properly, not by chance an event
                return bytes;
            case 1:
                return Encoding.UTF8.GetBytes(valid[..random.Next(1, valid.Length - 1)]);
            case 2:
                return Encoding.UTF8.GetBytes(WithMetadata(collection, id, "{\"a\":" + new string('[', 5000) + new string(']', 5000) + "}"));
            case 3:
                return Encoding.UTF8.GetBytes($$"""{"collection":"{{collection}}","id":"{{new string('i', 600)}}","op":"upsert","content":"x"}""");
            case 4:
                return Encoding.UTF8.GetBytes(WithMetadata(collection, id, "{\"k\":\"" + new string('m', 70_000) + "\"}"));
            case 5:
                string[] wrong = ["\"seq\":\"7\",\"content\":\"x\"", "\"content\":42", "\"content\":\"x\",\"metadata\":[1]", "\"content\":{\"a\":1}", "\"content\":\"x\",\"seq\":1.5"];
                return Encoding.UTF8.GetBytes($$"""{"collection":"{{collection}}","id":"{{id}}","op":"upsert",{{wrong[(i / 8) % wrong.Length]}}}""");
            case 6:
                var utf8 = Encoding.UTF8.GetBytes(valid);
                var at = valid.IndexOf("fuzzed", StringComparison.Ordinal) + random.Next(0, 6);
                return [.. utf8[..at], 0xC3, 0x28, 0xFF, .. utf8[at..]];
            default:
                string[] nul = ["\"content\":\"a\\u0000b\"", "\"content\":\"x\",\"metadata\":{\"k\":\"\\u0000\"}"];
                return Encoding.UTF8.GetBytes($$"""{"collection":"{{collection}}","id":"{{id}}","op":"upsert",{{nul[(i / 8) % nul.Length]}}}""");
        }
    }
}
