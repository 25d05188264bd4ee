namespace Orleans.Embeddings.Inference.Batching;

/// <summary>How the dynamic batcher groups requests.</summary>
public sealed class DynamicBatcherOptions
{
    /// <summary>Default <see cref="MaxBatchSize"/>.</summary>
    public const int DefaultMaxBatchSize = 32;

    /// <summary>Default <see cref="MaxWait"/>.</summary>
    public static readonly TimeSpan DefaultMaxWait = TimeSpan.FromMilliseconds(5);

    /// <summary>Default <see cref="MaxPaddedTokens"/>.</summary>
    public const int DefaultMaxPaddedTokens = 16_384;

    /// <summary>Default <see cref="BulkShare"/>: one batch in eight goes to the bulk lane when it has work.</summary>
    public const int DefaultBulkShare = 8;

    /// <summary>Default <see cref="LaneCapacity"/>.</summary>
    public const int DefaultLaneCapacity = 4096;

    /// <summary>The most texts in one model run.</summary>
    public int MaxBatchSize { get; set; } = DefaultMaxBatchSize;

    /// <summary>How long a document batch (live or bulk) that is not full waits for more texts of its lane.</summary>
    public TimeSpan MaxWait { get; set; } = DefaultMaxWait;

    /// <summary>
    /// How long a query batch that is not full waits for more queries. Default zero: a query runs as soon as the query
    /// runner is free, and the queries that arrive while it runs form the next batch, so batches grow with the load
    /// without making a lone query wait.
    /// </summary>
    public TimeSpan QueryMaxWait { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// A query whose model runs have averaged less than this per text is embedded on its caller's thread, when no other
    /// query waits, instead of being handed to the query runner. With a static model a query embeds in microseconds,
    /// less than the hand-over to a runner thread and back costs (and far less than it costs on a saturated CPU). Zero:
    /// always use the runner. Encoders take milliseconds per query and always use the runner.
    /// </summary>
    public TimeSpan InlineQueryBelow { get; set; } = TimeSpan.FromMilliseconds(0.5);

    /// <summary>The most padded tokens (texts × longest text) in one model run; bounds memory and latency.</summary>
    public int MaxPaddedTokens { get; set; } = DefaultMaxPaddedTokens;

    /// <summary>Default <see cref="SortWindowBatches"/>.</summary>
    public const int DefaultSortWindowBatches = 32;

    /// <summary>
    /// How many texts of a lane are gathered and sorted by token count before they are cut into batches, as a multiple of
    /// <see cref="MaxBatchSize"/>. A window holds only what already waits in the lane, so a wide window costs nothing
    /// when the lane is short and pads far less under a backlog (on the Debian corpus with minilm-l6 and exact token
    /// counts, batches of 8 are 98 % real tokens from windows of 256 texts and 99.4 % from windows of 1,024).
    /// </summary>
    public int SortWindowBatches { get; set; } = DefaultSortWindowBatches;

    /// <summary>Every this many batches, the bulk lane is served if it has work, whatever waits in the others.</summary>
    public int BulkShare { get; set; } = DefaultBulkShare;

    /// <summary>Default <see cref="BulkBatchUnderLiveLoad"/>.</summary>
    public const int DefaultBulkBatchUnderLiveLoad = 4;

    /// <summary>
    /// The most texts in one bulk run while live changes are arriving (one came within <see cref="LiveQuietPeriod"/>).
    /// A run cannot be interrupted, so a live change that arrives during a bulk run waits for it: short bulk runs keep
    /// live latency near its idle value during a load. On a CPU, runs of 4 length-sorted texts embed about as fast per
    /// text as runs of 32; on a GPU, raise it.
    /// </summary>
    public int BulkBatchUnderLiveLoad { get; set; } = DefaultBulkBatchUnderLiveLoad;

    /// <summary>Default <see cref="LiveRunnerBulkBatch"/>.</summary>
    public const int DefaultLiveRunnerBulkBatch = 1;

    /// <summary>
    /// With several <see cref="DocumentRunners"/>, the most texts the first runner takes in one bulk run while live
    /// changes are arriving (the others take <see cref="BulkBatchUnderLiveLoad"/>): a live change then waits at most
    /// for one text's run before a runner is free. 0: the first runner is like the others.
    /// </summary>
    public int LiveRunnerBulkBatch { get; set; } = DefaultLiveRunnerBulkBatch;

    /// <summary>How long after the last live request the bulk lane goes back to <see cref="MaxBatchSize"/> runs.</summary>
    public TimeSpan LiveQuietPeriod { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How many document batches (live and bulk) may run at once. On a CPU, two runs of single-threaded sessions
    /// (<c>IntraOpThreads = 1</c>) keep both cores busy better than one run on two threads, and a live change need
    /// not wait for a bulk run to finish; on a GPU, keep 1.
    /// </summary>
    public int DocumentRunners { get; set; } = 1;

    /// <summary>Default <see cref="BulkNice"/>.</summary>
    public const int DefaultBulkNice = 10;

    /// <summary>
    /// Above zero, bulk batches run on runners of their own (as many as <see cref="DocumentRunners"/>) whose threads have
    /// this lower CPU priority (a Linux nice value, 1–19; <c>Thread.Priority</c> elsewhere), and the document runners
    /// take live batches only. A live change then preempts bulk work through the OS scheduler the moment it arrives,
    /// instead of waiting for a bulk run to finish, and the bulk load takes every cycle live work leaves, in full
    /// batches. At nice 10 a bulk thread still gets about a tenth of a core that live work keeps busy, so a load makes
    /// progress under any live load. 0: the document runners take both lanes (bulk gets every
    /// <see cref="BulkShare"/>th run, shortened while live changes arrive).
    /// </summary>
    public int BulkNice { get; set; } = DefaultBulkNice;

    /// <summary>Requests a lane holds before callers wait (backpressure; nothing is dropped).</summary>
    public int LaneCapacity { get; set; } = DefaultLaneCapacity;

    /// <summary>
    /// Estimates a text's token count for sorting and the padded-token budget, in a batcher over a function; default:
    /// characters / 4 + 2. A batcher over an <c>EmbeddingSession</c> does not estimate: it tokenizes each text when a runner
    /// takes it into its window and uses the exact count.
    /// </summary>
    public Func<string, int> EstimateTokens { get; set; } = text => (text.Length / 4) + 2;

    /// <summary>Throws when a value is out of range, naming it.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBatchSize, 1, nameof(MaxBatchSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxWait, TimeSpan.Zero, nameof(MaxWait));
        ArgumentOutOfRangeException.ThrowIfLessThan(QueryMaxWait, TimeSpan.Zero, nameof(QueryMaxWait));
        ArgumentOutOfRangeException.ThrowIfLessThan(InlineQueryBelow, TimeSpan.Zero, nameof(InlineQueryBelow));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPaddedTokens, 1, nameof(MaxPaddedTokens));
        ArgumentOutOfRangeException.ThrowIfLessThan(SortWindowBatches, 1, nameof(SortWindowBatches));
        ArgumentOutOfRangeException.ThrowIfLessThan(BulkShare, 1, nameof(BulkShare));
        ArgumentOutOfRangeException.ThrowIfLessThan(LaneCapacity, 1, nameof(LaneCapacity));
        ArgumentOutOfRangeException.ThrowIfLessThan(BulkBatchUnderLiveLoad, 1, nameof(BulkBatchUnderLiveLoad));
        ArgumentOutOfRangeException.ThrowIfNegative(LiveRunnerBulkBatch, nameof(LiveRunnerBulkBatch));
        ArgumentOutOfRangeException.ThrowIfLessThan(DocumentRunners, 1, nameof(DocumentRunners));
        ArgumentOutOfRangeException.ThrowIfNegative(BulkNice, nameof(BulkNice));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(BulkNice, 19, nameof(BulkNice));
        ArgumentOutOfRangeException.ThrowIfLessThan(LiveQuietPeriod, TimeSpan.Zero, nameof(LiveQuietPeriod));
        ArgumentNullException.ThrowIfNull(EstimateTokens, nameof(EstimateTokens));
    }
}
