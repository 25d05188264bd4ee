using System.Diagnostics;
using System.Threading.Channels;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Sessions;
using Orleans.Embeddings.Inference.Tokenization;

namespace Orleans.Embeddings.Inference.Batching;

/// <summary>
/// Groups single-text requests from many concurrent callers into model runs: by batch size, a short wait
/// for more texts, and a padded-token budget, with texts sorted by token count within a window so that a run
/// pads little. Three lanes: query, live, bulk. Live is served before bulk, except that every
/// <see cref="DynamicBatcherOptions.BulkShare"/>th document run goes to the bulk lane when it has work.
/// </summary>
/// <remarks>
/// One runner takes query batches only, and <see cref="DynamicBatcherOptions.DocumentRunners"/> runners take
/// document batches, each one batch at a time; ONNX Runtime sessions allow concurrent runs. With
/// <see cref="DynamicBatcherOptions.BulkNice"/> (the default), bulk batches have as many runners of their own, on threads
/// of lower CPU priority, and the document runners take live batches only; otherwise the document runners take live,
/// then bulk.
/// A query therefore never waits behind a document batch that is already running (a batch of long
/// documents takes far longer than a query). A lane's window is taken whole and finished before that lane takes
/// newer requests, so sorting by length never starves a long text. Full lanes make callers wait
/// (backpressure); nothing is dropped. A failed run fails only its own requests.
/// </remarks>
public sealed class DynamicBatcher : IAsyncDisposable
{
    private static readonly EmbeddingLane[] s_priority = [EmbeddingLane.Query, EmbeddingLane.Live, EmbeddingLane.Bulk];
    private static readonly EmbeddingLane[] s_queryWorkerLanes = [EmbeddingLane.Query];
    private static readonly EmbeddingLane[] s_documentWorkerLanes = [EmbeddingLane.Live, EmbeddingLane.Bulk];
    private static readonly EmbeddingLane[] s_liveWorkerLanes = [EmbeddingLane.Live];
    private static readonly EmbeddingLane[] s_bulkWorkerLanes = [EmbeddingLane.Bulk];

    private readonly Func<IReadOnlyList<string>, EmbeddingPurpose, IReadOnlyList<TextEmbedding>> _embed;
    private readonly EmbeddingSession? _session;
    private readonly DynamicBatcherOptions _options;
    private readonly Channel<Request>[] _lanes;
    private readonly Queue<Request>[] _windows;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task[] _workers;
    private readonly Func<string, int> _estimateTokens;
    private long _lastLiveRequest = long.MinValue / 2;
    private long _documentRuns;
    private readonly SemaphoreSlim _querySignal = new(0);
    private readonly SemaphoreSlim _documentSignal = new(0);
    private readonly SemaphoreSlim _bulkSignal;
    private int _loweredBulkRunners;
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Batches for an <see cref="EmbeddingSession"/>. Each text is tokenized when a runner takes it into its lane's window
    /// (on that runner's thread, so bulk texts are tokenized at the bulk runners' lower priority), so windows sort by
    /// exact token counts and a run pads little: on the Debian corpus with minilm-l6, batches of 8 from
    /// windows of 256 texts are 98 % real tokens this way against 88 % when sorted by length in characters, and embed
    /// about 13 % more texts per second. The run then uses those tokens; <see cref="DynamicBatcherOptions.EstimateTokens"/>
    /// is not used.
    /// </summary>
    public DynamicBatcher(EmbeddingSession session, DynamicBatcherOptions? options = null)
        : this(CheckSession(session), options)
    {
        _session = session;
    }

    /// <summary>Batches for any function that embeds a list of texts (one result per text, in order).</summary>
    public DynamicBatcher(Func<IReadOnlyList<string>, EmbeddingPurpose, IReadOnlyList<TextEmbedding>> embed, DynamicBatcherOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(embed);
        _embed = embed;
        _options = options ?? new DynamicBatcherOptions();
        _options.Validate();
        _estimateTokens = _options.EstimateTokens;
        _inlineQueryTicks = (long)(_options.InlineQueryBelow.TotalSeconds * Stopwatch.Frequency);
        _lanes = [.. s_priority.Select(_ => Channel.CreateBounded<Request>(new BoundedChannelOptions(_options.LaneCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = false, // document lanes may have several runners (they take turns under a gate)
        }))];
        _windows = [.. s_priority.Select(_ => new Queue<Request>())];
        var queryGate = new SemaphoreSlim(1);
        var documentGate = new SemaphoreSlim(1);
        var separateBulk = _options.BulkNice > 0;
        _bulkSignal = separateBulk ? new SemaphoreSlim(0) : _documentSignal;
        var bulkGate = new SemaphoreSlim(1);
        _workers = [
            StartRunner(s_queryWorkerLanes, queryGate, _querySignal, "embedding-batcher-query", firstDocumentRunner: false, nice: 0),
            .. Enumerable.Range(0, _options.DocumentRunners).Select(i => StartRunner(
                separateBulk ? s_liveWorkerLanes : s_documentWorkerLanes, documentGate, _documentSignal, $"embedding-batcher-documents-{i}", firstDocumentRunner: i == 0, nice: 0)),
            .. Enumerable.Range(0, separateBulk ? _options.DocumentRunners : 0).Select(i => StartRunner(
                s_bulkWorkerLanes, bulkGate, _bulkSignal, $"embedding-batcher-bulk-{i}", firstDocumentRunner: false, nice: _options.BulkNice)),
        ];
    }

    private readonly long[] _runsPerLane = new long[3];
    private readonly long _inlineQueryTicks;
    private long _queryRunTicks;
    private long _inlineQueryRuns;
    private long _tokens;
    private long _paddedTokens;

    /// <summary>How many queries ran on their caller's thread (see <see cref="DynamicBatcherOptions.InlineQueryBelow"/>).</summary>
    public long InlineQueryRuns => Interlocked.Read(ref _inlineQueryRuns);

    /// <summary>How many bulk runner threads run at the lower CPU priority of <see cref="DynamicBatcherOptions.BulkNice"/> (0 when it is off or the OS refused).</summary>
    public int LoweredBulkRunners => Volatile.Read(ref _loweredBulkRunners);

    /// <summary>
    /// Tokens embedded so far, padding excluded (exact over a session; estimated by <see cref="DynamicBatcherOptions.EstimateTokens"/>
    /// over a function). Divided by <see cref="PaddedTokens"/>, the share of the model's work that was not padding.
    /// </summary>
    public long Tokens => Interlocked.Read(ref _tokens);

    /// <summary>Token positions run so far: each run's texts times its longest text.</summary>
    public long PaddedTokens => Interlocked.Read(ref _paddedTokens);

    /// <summary>How many requests wait in <paramref name="lane"/>'s queue (at most its capacity; callers beyond it wait to enqueue).</summary>
    public int GetQueuedCount(EmbeddingLane lane) => _lanes[(int)lane].Reader.Count;

    /// <summary>How many model runs <paramref name="lane"/> has had.</summary>
    public long GetRunCount(EmbeddingLane lane) => Interlocked.Read(ref _runsPerLane[(int)lane]);

    /// <summary>Embeds one text on <paramref name="lane"/>; waits while the lane is full.</summary>
    /// <exception cref="OperationCanceledException">The caller cancelled before the text was embedded.</exception>
    public async Task<TextEmbedding> EmbedAsync(string text, EmbeddingLane lane, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        if (lane == EmbeddingLane.Query && RunsInline())
        {
            return RunInline(text);
        }

        var request = new Request(text, _session is null ? _estimateTokens(text) : 0, cancellationToken);
        if (lane == EmbeddingLane.Live)
        {
            Volatile.Write(ref _lastLiveRequest, Environment.TickCount64);
        }

        await _lanes[(int)lane].Writer.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        Wake(lane switch { EmbeddingLane.Query => _querySignal, EmbeddingLane.Bulk => _bulkSignal, _ => _documentSignal });
        await using var registration = cancellationToken.Register(static state => ((Request)state!).Cancel(), request).ConfigureAwait(false);
        return await request.Completion.Task.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var lane in _lanes)
        {
            lane.Writer.TryComplete();
        }

        Wake(_querySignal);
        Wake(_documentSignal);
        Wake(_bulkSignal);
        await Task.WhenAll(_workers).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var disposed = new ObjectDisposedException(nameof(DynamicBatcher));
        foreach (var (lane, window) in _lanes.Zip(_windows))
        {
            while (window.TryDequeue(out var request) || lane.Reader.TryRead(out request))
            {
                request.Completion.TrySetException(disposed);
            }
        }

        _stopping.Dispose();
    }

    // A runner is a dedicated thread: a model run blocks its thread for as long as it takes, which on the .NET thread
    // pool would starve everything else in the process (Orleans' scheduler among it) on a small machine.
    private Task StartRunner(EmbeddingLane[] lanes, SemaphoreSlim gate, SemaphoreSlim signal, string name, bool firstDocumentRunner, int nice)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                if (nice > 0 && ThreadPriorities.LowerCurrentThread(nice))
                {
                    Interlocked.Increment(ref _loweredBulkRunners);
                }

                RunLoop(lanes, gate, signal, firstDocumentRunner);
                done.TrySetResult();
            }
            catch (Exception ex)
            {
                done.TrySetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = name,
        };
        thread.Start();
        return done.Task;
    }

    private void RunLoop(EmbeddingLane[] lanes, SemaphoreSlim gate, SemaphoreSlim signal, bool firstDocumentRunner)
    {
        // While live changes arrive, a runner that takes both lanes runs short bulk batches so that a live change soon
        // finds a runner free; with several runners, the first one's are shortest of all (LiveRunnerBulkBatch), so one
        // runner is nearly always about to be. A bulk-only runner (BulkNice) is preempted instead, and runs full batches.
        var bulkUnderLiveLoad = lanes.Contains(EmbeddingLane.Live) ? Math.Min(_options.BulkBatchUnderLiveLoad, _options.MaxBatchSize) : _options.MaxBatchSize;
        if (firstDocumentRunner && _options.DocumentRunners > 1 && _options.LiveRunnerBulkBatch > 0)
        {
            bulkUnderLiveLoad = Math.Min(bulkUnderLiveLoad, _options.LiveRunnerBulkBatch);
        }

        var token = _stopping.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                // Choosing a lane and cutting a batch from its window happen under the gate (several runners may share
                // the document lanes); the model run does not.
                var batch = new List<Request>();
                var chosen = lanes[0];
                gate.Wait(token);
                try
                {
                    if (ChooseLane(lanes, Interlocked.Read(ref _documentRuns)) is { } lane)
                    {
                        if (_windows[(int)lane].Count == 0)
                        {
                            FillWindow(lane, token);
                        }

                        chosen = lane;
                        batch = TakeBatch(_windows[(int)lane], lane == EmbeddingLane.Bulk && LiveRecently() ? bulkUnderLiveLoad : _options.MaxBatchSize);
                        if (batch.Count > 0 && lane != EmbeddingLane.Query)
                        {
                            Interlocked.Increment(ref _documentRuns); // live and bulk runners have separate gates with BulkNice
                        }
                    }
                }
                finally
                {
                    gate.Release();
                }

                if (batch.Count == 0)
                {
                    signal.Wait(IdlePoll, token); // woken by the next request of these lanes
                    continue;
                }

                if (ChooseLane(lanes, 0) is not null)
                {
                    Wake(signal); // more work: another runner of these lanes may take it meanwhile
                }

                Interlocked.Increment(ref _runsPerLane[(int)chosen]);
                Run(batch, chosen == EmbeddingLane.Query ? EmbeddingPurpose.Query : EmbeddingPurpose.Document);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    private static void Wake(SemaphoreSlim signal)
    {
        if (signal.CurrentCount == 0)
        {
            try
            {
                signal.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
    }

    private bool LiveRecently() => Environment.TickCount64 - Volatile.Read(ref _lastLiveRequest) < (long)_options.LiveQuietPeriod.TotalMilliseconds;

    // A lane's window is only touched under its runners' gate.
    private EmbeddingLane? ChooseLane(EmbeddingLane[] lanes, long runs)
    {
        bool HasWork(EmbeddingLane lane) => _windows[(int)lane].Count > 0 || _lanes[(int)lane].Reader.TryPeek(out _);

        if (lanes.Contains(EmbeddingLane.Bulk) && (runs + 1) % _options.BulkShare == 0 && HasWork(EmbeddingLane.Bulk))
        {
            return EmbeddingLane.Bulk;
        }

        foreach (var lane in lanes)
        {
            if (HasWork(lane))
            {
                return lane;
            }
        }

        return null;
    }

    // Takes what the lane holds, waits the lane's wait once if that is less than a batch, tokenizes it (over a session),
    // then sorts the window by token count.
    private void FillWindow(EmbeddingLane lane, CancellationToken token)
    {
        var reader = _lanes[(int)lane].Reader;
        var capacity = _options.MaxBatchSize * _options.SortWindowBatches;
        var taken = new List<Request>(capacity);
        void Drain()
        {
            while (taken.Count < capacity && reader.TryRead(out var request))
            {
                taken.Add(request);
            }
        }

        Drain();
        var wait = lane == EmbeddingLane.Query ? _options.QueryMaxWait : _options.MaxWait;
        if (taken.Count < _options.MaxBatchSize && wait > TimeSpan.Zero)
        {
            token.WaitHandle.WaitOne(wait);
            Drain();
        }

        if (_session is not null)
        {
            var purpose = lane == EmbeddingLane.Query ? EmbeddingPurpose.Query : EmbeddingPurpose.Document;
            taken.RemoveAll(request => !request.TryTokenize(_session, purpose)); // a text that fails to tokenize fails alone
        }

        foreach (var request in taken.OrderBy(r => r.Tokens))
        {
            _windows[(int)lane].Enqueue(request);
        }
    }

    // The next run: consecutive texts of the sorted window while both the size and the padded-token budget allow.
    private List<Request> TakeBatch(Queue<Request> window, int maxBatchSize)
    {
        var batch = new List<Request>(maxBatchSize);
        var longest = 0;
        while (window.TryPeek(out var next))
        {
            if (next.Completion.Task.IsCompleted)
            {
                window.Dequeue();
                continue;
            }

            var longestWithNext = Math.Max(longest, next.Tokens);
            if (batch.Count > 0 && (batch.Count + 1 > maxBatchSize || (batch.Count + 1) * longestWithNext > _options.MaxPaddedTokens))
            {
                break;
            }

            batch.Add(window.Dequeue());
            longest = longestWithNext;
        }

        return batch;
    }

    // A query runs on the caller's thread when query runs have been cheaper than handing the query to the runner would
    // be (a static model embeds a query in microseconds; waking a runner thread and coming back costs more, and far more
    // on a saturated CPU) and no query waits in the lane, so an inline run never overtakes a queued one.
    private bool RunsInline()
    {
        var average = Volatile.Read(ref _queryRunTicks);
        return average > 0 && average < _inlineQueryTicks && _lanes[(int)EmbeddingLane.Query].Reader.Count == 0;
    }

    private TextEmbedding RunInline(string text)
    {
        var start = Stopwatch.GetTimestamp();
        var result = _embed([text], EmbeddingPurpose.Query);
        RecordQueryRun(Stopwatch.GetTimestamp() - start, 1);
        Interlocked.Increment(ref _runsPerLane[(int)EmbeddingLane.Query]);
        Interlocked.Increment(ref _inlineQueryRuns);
        return result.Count == 1 ? result[0] : throw new InvalidOperationException($"The model returned {result.Count} embeddings for 1 text.");
    }

    // A moving average of the time per query text (ticks), from runner and inline runs alike; it halves toward each new
    // run, so the cold first runs (JIT, first ONNX Runtime run) are forgotten after a few queries.
    private void RecordQueryRun(long ticks, int texts)
    {
        var perText = Math.Max(1, ticks / Math.Max(1, texts));
        var average = Volatile.Read(ref _queryRunTicks);
        Volatile.Write(ref _queryRunTicks, average == 0 ? perText : (average + perText) / 2);
    }

    private void Run(List<Request> batch, EmbeddingPurpose purpose)
    {
        try
        {
            var start = Stopwatch.GetTimestamp();
            var results = _session is null ? _embed([.. batch.Select(r => r.Text)], purpose) : _session.Embed([.. batch.Select(r => r.Tokenized!.Value)]);
            if (purpose == EmbeddingPurpose.Query)
            {
                RecordQueryRun(Stopwatch.GetTimestamp() - start, batch.Count);
            }

            if (results.Count != batch.Count)
            {
                throw new InvalidOperationException($"The model returned {results.Count} embeddings for {batch.Count} texts.");
            }

            Interlocked.Add(ref _tokens, batch.Sum(r => (long)r.Tokens));
            Interlocked.Add(ref _paddedTokens, (long)batch.Count * batch.Max(r => r.Tokens));

            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Completion.TrySetResult(results[i]);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            foreach (var request in batch)
            {
                request.Completion.TrySetException(ex);
            }
        }
    }

    private static Func<IReadOnlyList<string>, EmbeddingPurpose, IReadOnlyList<TextEmbedding>> CheckSession(EmbeddingSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        return (texts, purpose) => session.Embed(texts, purpose);
    }

    private sealed class Request(string text, int tokens, CancellationToken cancellationToken)
    {
        public string Text { get; } = text;

        public int Tokens { get; private set; } = tokens;

        /// <summary>The text's tokens, when the batcher runs a session (which then embeds these, not the text).</summary>
        public TokenizedText? Tokenized { get; private set; }

        /// <summary>Tokenizes the text for <paramref name="session"/>; on failure completes the request with the error.</summary>
        public bool TryTokenize(EmbeddingSession session, EmbeddingPurpose purpose)
        {
            try
            {
                var tokenized = session.Tokenize(Text, purpose);
                (Tokenized, Tokens) = (tokenized, tokenized.Ids.Length);
                return true;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Completion.TrySetException(ex);
                return false;
            }
        }

        public TaskCompletionSource<TextEmbedding> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Cancel() => Completion.TrySetCanceled(cancellationToken);
    }
}
