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
    public async Task EmbedAsync_OverASession_RunsTheTextsExactTokensAndCountsThem()
    {
        // Character counts mislead here: a run of punctuation is one token per character, a known word one token in all.
        var texts = Enumerable.Range(0, 120).Select(i => (i % 3) switch
        {
            0 => new string('!', 1 + (i % 11)),
            1 => string.Join(' ', Enumerable.Repeat("postgresql", 1 + (i % 5))),
            _ => StaticModelFixture.Corpus[i % StaticModelFixture.Corpus.Length],
        }).ToArray();
        EmbeddingLane Lane(int i) => (i % 3) switch { 0 => EmbeddingLane.Query, 1 => EmbeddingLane.Live, _ => EmbeddingLane.Bulk };
        EmbeddingPurpose Purpose(int i) => Lane(i) == EmbeddingLane.Query ? EmbeddingPurpose.Query : EmbeddingPurpose.Document;
        await using var batcher = new DynamicBatcher(_session, new DynamicBatcherOptions { MaxBatchSize = 8, InlineQueryBelow = TimeSpan.Zero });

        var results = await Task.WhenAll(texts.Select((t, i) => Task.Run(() => batcher.EmbedAsync(t, Lane(i), Cancellation), Cancellation)));

        for (var i = 0; i < texts.Length; i++)
        {
            var direct = _session.Embed([texts[i]], Purpose(i))[0];
            Assert.Equal(direct.TokenCount, results[i].TokenCount);
            Assert.All(direct.Vector.Zip(results[i].Vector), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-5));
        }

        Assert.Equal(texts.Select((t, i) => (long)_session.Tokenize(t, Purpose(i)).Ids.Length).Sum(), batcher.Tokens);
        Assert.True(batcher.PaddedTokens >= batcher.Tokens);
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
    public async Task EmbedAsync_CheapQueries_RunOnTheCallersThreadOnceTheirCostIsKnown()
    {
        // The threshold is far above the static model's cost on any machine, loaded or not: what is tested is that a
        // query known to be cheap skips the runner, not how fast this machine is (the default, 0.5 ms, is about that).
        var threads = new ConcurrentQueue<string?>();
        await using var batcher = new DynamicBatcher(
            (batch, purpose) =>
            {
                threads.Enqueue(Thread.CurrentThread.Name);
                return _session.Embed(batch, purpose);
            },
            new DynamicBatcherOptions { InlineQueryBelow = TimeSpan.FromMilliseconds(50) });

        for (var i = 0; i < 20; i++)
        {
            var embedding = await batcher.EmbedAsync($"web server {i}", EmbeddingLane.Query, Cancellation);
            Assert.Equal(_session.Embed([$"web server {i}"], EmbeddingPurpose.Query)[0].Vector, embedding.Vector);
        }

        Assert.Equal("embedding-batcher-query", threads.First()); // the first measures the model on the runner
        Assert.True(batcher.InlineQueryRuns >= 10, $"{batcher.InlineQueryRuns} of 20 queries ran inline");
        Assert.Equal(20, batcher.GetRunCount(EmbeddingLane.Query));
    }

    [Fact]
    public async Task EmbedAsync_SlowQueries_AlwaysUseTheRunner()
    {
        var threads = new ConcurrentQueue<string?>();
        await using var batcher = new DynamicBatcher((batch, purpose) =>
        {
            threads.Enqueue(Thread.CurrentThread.Name);
            Thread.Sleep(2); // an encoder takes milliseconds per query
            return _session.Embed(batch, purpose);
        });

        for (var i = 0; i < 10; i++)
        {
            await batcher.EmbedAsync($"web server {i}", EmbeddingLane.Query, Cancellation);
        }

        Assert.Equal(0, batcher.InlineQueryRuns);
        Assert.All(threads, name => Assert.Equal("embedding-batcher-query", name));
    }

    [Fact]
    public async Task EmbedAsync_QueryWhileADocumentBatchIsRunning_DoesNotWaitForIt()
    {
        using var documentGate = new SemaphoreSlim(0);
        await using var batcher = new DynamicBatcher(
            (batch, purpose) =>
            {
                if (purpose == EmbeddingPurpose.Document)
                {
                    documentGate.Wait(Cancellation);
                }

                return _session.Embed(batch, purpose);
            },
            new DynamicBatcherOptions { MaxBatchSize = 4 });

        var bulk = Enumerable.Range(0, 8).Select(i => batcher.EmbedAsync($"bulk text {i}", EmbeddingLane.Bulk, Cancellation)).ToList();
        await Task.Delay(100, Cancellation);
        var query = await batcher.EmbedAsync("web server", EmbeddingLane.Query, Cancellation).WaitAsync(TimeSpan.FromSeconds(10), Cancellation);

        Assert.Equal(64, query.Vector.Length);
        Assert.All(bulk, b => Assert.False(b.IsCompleted));
        documentGate.Release(8);
        await Task.WhenAll(bulk);
    }

    [Fact]
    public async Task EmbedAsync_LiveLaneAlwaysBusy_BulkStillGetsItsShareOfRuns()
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
            new DynamicBatcherOptions { MaxBatchSize = 1, SortWindowBatches = 1, MaxWait = TimeSpan.Zero, BulkShare = 3, BulkNice = 0 });

        // The first live text occupies the model; then 12 live and 6 bulk texts queue up.
        var first = batcher.EmbedAsync("live-first", EmbeddingLane.Live, Cancellation);
        await Task.Delay(100, Cancellation);
        var live = Enumerable.Range(0, 12).Select(i => batcher.EmbedAsync($"live-{i}", EmbeddingLane.Live, Cancellation)).ToList();
        var bulk = Enumerable.Range(0, 6).Select(i => batcher.EmbedAsync($"bulk-{i}", EmbeddingLane.Bulk, Cancellation)).ToList();
        await Task.Delay(100, Cancellation);
        gate.Release(19);

        await Task.WhenAll([first, .. live, .. bulk]);

        // Every third run goes to bulk while live still has work: 4 of the first 12 runs.
        var firstTwelve = order.Take(12).ToList();
        Assert.Equal("live-first", firstTwelve[0]);
        Assert.Equal(4, firstTwelve.Count(t => t.StartsWith("bulk", StringComparison.Ordinal)));
        Assert.Equal(13, batcher.GetRunCount(EmbeddingLane.Live));
    }

    [Fact]
    public async Task EmbedAsync_BulkWhileLiveChangesArrive_RunsShortBulkBatches()
    {
        var sizes = new ConcurrentQueue<(int Size, bool Bulk)>();
        await using var batcher = new DynamicBatcher(
            (batch, purpose) =>
            {
                sizes.Enqueue((batch.Count, batch[0].StartsWith("bulk", StringComparison.Ordinal)));
                return _session.Embed(batch, purpose);
            },
            new DynamicBatcherOptions { MaxBatchSize = 16, BulkBatchUnderLiveLoad = 4, LiveQuietPeriod = TimeSpan.FromSeconds(30), BulkNice = 0 });

        // Without live traffic the bulk lane runs full batches.
        await Task.WhenAll(Enumerable.Range(0, 32).Select(i => batcher.EmbedAsync($"bulk-a{i}", EmbeddingLane.Bulk, Cancellation)));
        Assert.Contains(sizes, s => s.Bulk && s.Size == 16);

        // Once a live change arrived, no bulk run is longer than 4 texts (for the quiet period).
        await batcher.EmbedAsync("live change", EmbeddingLane.Live, Cancellation);
        sizes.Clear();
        await Task.WhenAll(Enumerable.Range(0, 32).Select(i => batcher.EmbedAsync($"bulk-b{i}", EmbeddingLane.Bulk, Cancellation)));
        Assert.All(sizes.Where(s => s.Bulk), s => Assert.InRange(s.Size, 1, 4));
        Assert.True(sizes.Count(s => s.Bulk) >= 8);
    }

    [Fact]
    public async Task EmbedAsync_BulkWhileLiveChangesArrive_TheFirstOfSeveralRunnersRunsSingleTexts()
    {
        var sizes = new ConcurrentQueue<(int Size, string? Runner)>();
        await using var batcher = new DynamicBatcher(
            (batch, purpose) =>
            {
                if (batch[0].StartsWith("bulk", StringComparison.Ordinal))
                {
                    sizes.Enqueue((batch.Count, Thread.CurrentThread.Name));
                    Thread.Sleep(2); // long enough for both runners to take turns
                }

                return _session.Embed(batch, purpose);
            },
            new DynamicBatcherOptions { MaxBatchSize = 16, BulkBatchUnderLiveLoad = 4, DocumentRunners = 2, LiveQuietPeriod = TimeSpan.FromSeconds(30), BulkNice = 0 });

        await batcher.EmbedAsync("live change", EmbeddingLane.Live, Cancellation);
        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => batcher.EmbedAsync($"bulk {i}", EmbeddingLane.Bulk, Cancellation)));
        Assert.All(sizes.Where(s => s.Runner == "embedding-batcher-documents-0"), s => Assert.Equal(1, s.Size));
        Assert.All(sizes.Where(s => s.Runner == "embedding-batcher-documents-1"), s => Assert.InRange(s.Size, 1, 4));
        Assert.Contains(sizes, s => s.Runner == "embedding-batcher-documents-0");
        Assert.Contains(sizes, s => s.Runner == "embedding-batcher-documents-1" && s.Size > 1);
    }

    [Fact]
    public async Task EmbedAsync_Bulk_RunsFullBatchesOnLowerPriorityRunnersOfItsOwn()
    {
        var runs = new ConcurrentQueue<(bool Bulk, int Size, string? Runner, int? Nice)>();
        await using var batcher = new DynamicBatcher(
            (batch, purpose) =>
            {
                runs.Enqueue((batch[0].StartsWith("bulk", StringComparison.Ordinal), batch.Count, Thread.CurrentThread.Name, CurrentThreadNice()));
                return _session.Embed(batch, purpose);
            },
            new DynamicBatcherOptions { MaxBatchSize = 16, DocumentRunners = 2, LiveQuietPeriod = TimeSpan.FromSeconds(30) });

        await batcher.EmbedAsync("live change", EmbeddingLane.Live, Cancellation);
        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => batcher.EmbedAsync($"bulk {i}", EmbeddingLane.Bulk, Cancellation)));
        await batcher.EmbedAsync("another live change", EmbeddingLane.Live, Cancellation);

        Assert.Equal(2, batcher.LoweredBulkRunners);
        var bulk = runs.Where(r => r.Bulk).ToList();
        var live = runs.Where(r => !r.Bulk).ToList();
        Assert.All(bulk, r => Assert.StartsWith("embedding-batcher-bulk-", r.Runner, StringComparison.Ordinal));
        Assert.All(live, r => Assert.StartsWith("embedding-batcher-documents-", r.Runner, StringComparison.Ordinal));
        Assert.Contains(bulk, r => r.Size == 16); // live changes arrived, yet bulk runs are not shortened: they are preempted
        if (OperatingSystem.IsLinux())
        {
            Assert.All(bulk, r => Assert.Equal(DynamicBatcherOptions.DefaultBulkNice, r.Nice));
            Assert.All(live, r => Assert.Equal(0, r.Nice));
        }
    }

    [Fact]
    public async Task EmbedAsync_LiveWhileABulkRunIsRunning_DoesNotWaitForIt()
    {
        using var bulkGate = new SemaphoreSlim(0);
        await using var batcher = new DynamicBatcher(
            (batch, purpose) =>
            {
                if (batch[0].StartsWith("bulk", StringComparison.Ordinal))
                {
                    bulkGate.Wait(Cancellation);
                }

                return _session.Embed(batch, purpose);
            },
            new DynamicBatcherOptions { MaxBatchSize = 4, DocumentRunners = 1 });

        var bulk = Enumerable.Range(0, 8).Select(i => batcher.EmbedAsync($"bulk text {i}", EmbeddingLane.Bulk, Cancellation)).ToList();
        await Task.Delay(100, Cancellation);
        var live = await batcher.EmbedAsync("a live change", EmbeddingLane.Live, Cancellation).WaitAsync(TimeSpan.FromSeconds(10), Cancellation);

        Assert.Equal(64, live.Vector.Length);
        Assert.All(bulk, b => Assert.False(b.IsCompleted));
        bulkGate.Release(8);
        await Task.WhenAll(bulk);
    }

    [Fact]
    public void Options_BulkNiceOutOfRange_IsRefusedByName()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicBatcherOptions { BulkNice = 20 }.Validate());
        Assert.Equal(nameof(DynamicBatcherOptions.BulkNice), error.ParamName);
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

    // The calling thread's nice value on Linux, from /proc/thread-self/stat ("pid (comm) state ..."; nice is the 19th
    // field, the 17th after the command's ')'), or null elsewhere.
    private static int? CurrentThreadNice()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[16], System.Globalization.CultureInfo.InvariantCulture);
    }
}
