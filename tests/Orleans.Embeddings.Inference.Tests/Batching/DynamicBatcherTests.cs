using System.Collections.Concurrent;
using Orleans.Embeddings.Inference.Batching;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Sessions;

namespace Orleans.Embeddings.Inference.Tests.Batching;

public sealed class DynamicBatcherTests(StaticModelFixture model) : IClassFixture<StaticModelFixture>, IDisposable
{
    private readonly EmbeddingSession _session = new(model.Folder);

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task EmbedAsync_ManyConcurrentCallers_GetTheSameVectorsAsDirectRunsInFewerRuns()
    {
        var texts = Enumerable.Range(0, 200).Select(i => StaticModelFixture.Corpus[i % StaticModelFixture.Corpus.Length] + new string('!', i % 7)).ToArray();
        var runs = 0;
        await using var batcher = new DynamicBatcher((batch, purpose) =>
        {
            Interlocked.Increment(ref runs);
            return _session.Embed(batch, purpose);
        });

        var results = await Task.WhenAll(texts.Select(t => Task.Run(() => batcher.EmbedAsync(t, EmbeddingLane.Live, Cancellation), Cancellation)));

        for (var i = 0; i < texts.Length; i++)
        {
            var direct = _session.Embed([texts[i]], EmbeddingPurpose.Document)[0].Vector;
            Assert.All(direct.Zip(results[i].Vector), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-5));
        }

        Assert.True(runs < texts.Length / 4, $"{runs} runs for {texts.Length} texts");
    }

    [Fact]
    public async Task EmbedAsync_QueryLane_UsesTheQueryPrefixPurpose()
    {
        var purposes = new ConcurrentBag<EmbeddingPurpose>();
        await using var batcher = new DynamicBatcher((batch, purpose) =>
        {
            purposes.Add(purpose);
            return _session.Embed(batch, purpose);
        });

        await batcher.EmbedAsync("web server", EmbeddingLane.Query, Cancellation);
        await batcher.EmbedAsync("web server", EmbeddingLane.Bulk, Cancellation);

        Assert.Equal([EmbeddingPurpose.Document, EmbeddingPurpose.Query], purposes.Order());
    }

    [Fact]
    public async Task EmbedAsync_QueriesArriveWhileBulkIsQueued_QueriesRunFirstAndBulkStillGetsItsShare()
    {
        using var gate = new SemaphoreSlim(0);
        var order = new ConcurrentQueue<string>();
        await using var batcher = new DynamicBatcher(
            (batch, purpose) =>
            {
                gate.Wait(Cancellation);
                foreach (var text in batch)
                {
                    order.Enqueue(text);
                }

                return _session.Embed(batch, purpose);
            },
            new DynamicBatcherOptions { MaxBatchSize = 1, SortWindowBatches = 1, MaxWait = TimeSpan.Zero, BulkShare = 3 });

        // The first bulk text occupies the model; then 10 more bulk texts and 10 queries queue up.
        var first = batcher.EmbedAsync("bulk-first", EmbeddingLane.Bulk, Cancellation);
        await Task.Delay(100, Cancellation);
        var bulk = Enumerable.Range(0, 10).Select(i => batcher.EmbedAsync($"bulk-{i}", EmbeddingLane.Bulk, Cancellation)).ToList();
        var queries = Enumerable.Range(0, 10).Select(i => batcher.EmbedAsync($"query-{i}", EmbeddingLane.Query, Cancellation)).ToList();
        await Task.Delay(100, Cancellation);
        gate.Release(21);

        await Task.WhenAll([first, .. bulk, .. queries]);

        var sequence = order.ToList();
        var lastQuery = sequence.FindLastIndex(t => t.StartsWith("query", StringComparison.Ordinal));
        var bulkBeforeLastQuery = sequence.Take(lastQuery).Count(t => t.StartsWith("bulk", StringComparison.Ordinal));
        Assert.Equal("bulk-first", sequence[0]);
        Assert.InRange(bulkBeforeLastQuery, 2, 6);
        Assert.True(batcher.GetRunCount(EmbeddingLane.Query) == 10);
    }

    [Fact]
    public async Task EmbedAsync_FailedRun_FailsOnlyItsOwnRequests()
    {
        await using var batcher = new DynamicBatcher(
            (batch, purpose) => batch.Contains("poison") ? throw new InvalidOperationException("bad batch") : _session.Embed(batch, purpose),
            new DynamicBatcherOptions { MaxBatchSize = 1 });

        var poisoned = batcher.EmbedAsync("poison", EmbeddingLane.Live, Cancellation);
        var healthy = batcher.EmbedAsync("web server", EmbeddingLane.Live, Cancellation);

        await Assert.ThrowsAsync<InvalidOperationException>(() => poisoned);
        Assert.Equal(64, (await healthy).Vector.Length);
    }

    [Fact]
    public async Task EmbedAsync_CancelledWhileQueued_CancelsThatRequestOnly()
    {
        using var gate = new SemaphoreSlim(0);
        await using var batcher = new DynamicBatcher(
            (batch, purpose) =>
            {
                gate.Wait(Cancellation);
                return _session.Embed(batch, purpose);
            },
            new DynamicBatcherOptions { MaxBatchSize = 1, MaxWait = TimeSpan.Zero });
        using var cancel = new CancellationTokenSource();

        var running = batcher.EmbedAsync("first", EmbeddingLane.Live, Cancellation);
        await Task.Delay(50, Cancellation);
        var cancelled = batcher.EmbedAsync("second", EmbeddingLane.Live, cancel.Token);
        var kept = batcher.EmbedAsync("third", EmbeddingLane.Live, Cancellation);
        await cancel.CancelAsync();
        gate.Release(3);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        await running;
        await kept;
    }

    [Fact]
    public async Task EmbedAsync_LaneFull_CallerWaitsInsteadOfLosingTheText()
    {
        using var gate = new SemaphoreSlim(0);
        await using var batcher = new DynamicBatcher(
            (batch, purpose) =>
            {
                gate.Wait(Cancellation);
                return _session.Embed(batch, purpose);
            },
            new DynamicBatcherOptions { MaxBatchSize = 1, SortWindowBatches = 1, MaxWait = TimeSpan.Zero, LaneCapacity = 2 });

        var calls = Enumerable.Range(0, 6).Select(i => batcher.EmbedAsync($"text {i}", EmbeddingLane.Bulk, Cancellation)).ToList();
        await Task.Delay(100, Cancellation);

        // One text is in the model, two fill the lane, and the other three callers wait to enqueue.
        Assert.All(calls, c => Assert.False(c.IsCompleted));
        Assert.Equal(2, batcher.GetQueuedCount(EmbeddingLane.Bulk));
        gate.Release(6);
        var results = await Task.WhenAll(calls);
        Assert.Equal(6, results.Length);
    }

    public void Dispose() => _session.Dispose();
}
