using Orleans.Embeddings.Streaming.DeadLetters;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Streaming.Tests.DeadLetters;

public sealed class DeadLetterStoreTests(MigratedPostgresDatabase database) : IClassFixture<MigratedPostgresDatabase>
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AddAsync_SameOffsetOtherPayload_KeepsBothAndARedeliveryOnce()
    {
        // A Kafka topic recreated under the same name starts again at offset 0: a new bad event there is not a duplicate.
        var store = new DeadLetterStore(database.DataSource);
        var provider = $"p{Guid.NewGuid():N}"[..12];
        DeadLetter Letter(string payload) => new(provider, "kafka", 3, 0, "docs/a", System.Text.Encoding.UTF8.GetBytes(payload), 1, "the event is not valid JSON", DateTimeOffset.UtcNow);

        await store.AddAsync([Letter("first life of the topic")], Cancellation);
        await store.AddAsync([Letter("first life of the topic")], Cancellation); // redelivered
        await store.AddAsync([Letter("second life of the topic")], Cancellation);

        var letters = await store.ListAsync(provider, cancellationToken: Cancellation);
        Assert.Equal(["first life of the topic", "second life of the topic"], letters.Select(l => System.Text.Encoding.UTF8.GetString(l.Payload)));
    }

    [Fact]
    public async Task AddAsync_KeyAndReasonHoldingNul_IsStillWritten()
    {
        var store = new DeadLetterStore(database.DataSource);
        var provider = $"p{Guid.NewGuid():N}"[..12];

        await store.AddAsync([new DeadLetter(provider, "kafka", 0, 7, "docs/a\0b", [0, 1, 2], 1, "bad \0 input", DateTimeOffset.UtcNow)], Cancellation);

        var letter = Assert.Single(await store.ListAsync(provider, cancellationToken: Cancellation));
        Assert.Equal("docs/a\uFFFDb", letter.StreamKey);
        Assert.Equal("bad \uFFFD input", letter.Reason);
        Assert.Equal([0, 1, 2], letter.Payload);
    }

    [Fact]
    public async Task SummarizeAsync_CountsACollectionsLettersByReasonAndListsTheLatestFirst()
    {
        var store = new DeadLetterStore(database.DataSource);
        var provider = $"p{Guid.NewGuid():N}"[..12];
        var collection = $"c_{Guid.NewGuid():N}"[..14];
        var lookalike = collection.Replace('_', 'x'); // '_' must not act as a pattern
        DeadLetter Letter(long position, string key, string reason) => new(provider, "postgres", 1, position, key, [(byte)position], 1, reason, DateTimeOffset.UtcNow);

        await store.AddAsync(
        [
            Letter(1, $"{collection}/a", "the event is not valid JSON"),
            Letter(2, $"{collection}/b", "id over 512 bytes"),
            Letter(3, $"{collection}/c", "the event is not valid JSON"),
            Letter(4, $"{lookalike}/d", "the event is not valid JSON"),
            Letter(5, $"{collection}x/e", "the event is not valid JSON"),
        ], Cancellation);

        var summary = await store.SummarizeAsync(collection, reasons: 10, latest: 2, cancellationToken: Cancellation);

        Assert.Equal(3, summary.Total);
        Assert.Equal([("the event is not valid JSON", 2L), ("id over 512 bytes", 1L)], summary.Reasons.Select(r => (r.Reason, r.Count)));
        Assert.Equal([3L, 2L], summary.Latest.Select(l => l.Position));
        Assert.True((await store.SummarizeAsync(null, cancellationToken: Cancellation)).Total >= 5);
    }
}
