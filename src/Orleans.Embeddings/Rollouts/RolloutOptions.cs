namespace Orleans.Embeddings.Rollouts;

/// <summary>How the version coordinator runs rollouts (section <c>Embeddings:Indexer:Rollouts</c>).</summary>
public sealed class RolloutOptions
{
    /// <summary>How long every active silo has to acknowledge a routing epoch before the step fails.</summary>
    public TimeSpan AckTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a replaced primary keeps being written after a promote, so a rollback stays instant.</summary>
    public TimeSpan RollbackWindow { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>How many shard grains split the documents' 256 shards during a load.</summary>
    public int ShardRanges { get; set; } = 8;

    /// <summary>Documents per page a shard grain reads, embeds on the bulk lane and checkpoints.</summary>
    public int PageSize { get; set; } = 128;

    /// <summary>
    /// How many load pages a silo reads or writes at once, all its shard grains and workers together (a page's keyset
    /// read, and its guarded write after the embedding). Every range writing at once saturates PostgreSQL on a small
    /// machine and live changes queue behind the load. Embedding is not bounded by it, so the pages of every range wait
    /// in the bulk lane together and the model never waits for the database. 0: no limit. Default: one per core.
    /// </summary>
    public int ConcurrentPages { get; set; } = Environment.ProcessorCount;

    /// <summary>Reconciliation passes after which a run that still finds work fails.</summary>
    public int MaxPasses { get; set; } = 10;

    /// <summary>How often a coordinator with a run in progress advances it.</summary>
    public TimeSpan TickInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often each silo wakes the coordinators that have a run in progress (after they moved or their silo died).</summary>
    public TimeSpan SupervisorInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long after the last silo stopped routing to a version its table is dropped (calls in flight finish first).</summary>
    public TimeSpan DropGrace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>HNSW <c>m</c> of the index built when a load converges.</summary>
    public int HnswM { get; set; } = 16;

    /// <summary>HNSW <c>ef_construction</c>.</summary>
    public int HnswEfConstruction { get; set; } = 64;

    /// <summary>
    /// Parallel maintenance workers of the HNSW build (PostgreSQL's <c>max_parallel_maintenance_workers</c>). The build
    /// runs while live changes keep arriving; by default it leaves the other cores of a small machine to them (on 2
    /// cores, a build with 2 workers made live changes wait up to 15 s).
    /// </summary>
    public int IndexBuildWorkers { get; set; } = Math.Max(0, (Environment.ProcessorCount / 2) - 1);

    /// <summary>
    /// The recall@10 each version's ef_search is tuned for after its index is built, when its collection sets none
    /// (<c>embeddings collection set --target-recall</c>). Above 0, at most 1.
    /// </summary>
    public double TargetRecall { get; set; } = Orleans.Embeddings.Storage.Search.EfSearchTunerOptions.DefaultTargetRecall;

    /// <summary>How many of a version's stored vectors the ef_search tuning searches for (1-10,000).</summary>
    public int RecallSampleSize { get; set; } = Orleans.Embeddings.Storage.Search.EfSearchTunerOptions.DefaultSampleSize;

    /// <summary>The ef_search tuning these options describe (rollouts and <c>VersionIndexes</c> alike).</summary>
    public Orleans.Embeddings.Storage.Search.EfSearchTunerOptions ToEfSearchTunerOptions() =>
        new() { TargetRecall = TargetRecall, SampleSize = RecallSampleSize };

    /// <summary>The HNSW build settings these options describe (rollouts and <c>VersionIndexes</c> alike).</summary>
    public Orleans.Embeddings.Storage.Vectors.HnswIndexOptions ToHnswIndexOptions() =>
        new() { M = HnswM, EfConstruction = HnswEfConstruction, MaxParallelMaintenanceWorkers = IndexBuildWorkers };

    /// <summary>Failures naming each invalid setting under <paramref name="section"/>.</summary>
    public IEnumerable<string> Validate(string section)
    {
        if (AckTimeout <= TimeSpan.Zero)
        {
            yield return $"{section}:{nameof(AckTimeout)} must be positive (was {AckTimeout}).";
        }

        if (RollbackWindow < TimeSpan.Zero)
        {
            yield return $"{section}:{nameof(RollbackWindow)} must not be negative (was {RollbackWindow}).";
        }

        if (ShardRanges is < 1 or > 256)
        {
            yield return $"{section}:{nameof(ShardRanges)} must be between 1 and 256 (was {ShardRanges}).";
        }

        if (PageSize < 1)
        {
            yield return $"{section}:{nameof(PageSize)} must be at least 1 (was {PageSize}).";
        }

        if (ConcurrentPages < 0)
        {
            yield return $"{section}:{nameof(ConcurrentPages)} must not be negative (was {ConcurrentPages}).";
        }

        if (MaxPasses < 1)
        {
            yield return $"{section}:{nameof(MaxPasses)} must be at least 1 (was {MaxPasses}).";
        }

        if (TickInterval <= TimeSpan.Zero || SupervisorInterval <= TimeSpan.Zero)
        {
            yield return $"{section}:{nameof(TickInterval)} and {nameof(SupervisorInterval)} must be positive.";
        }

        if (IndexBuildWorkers is < 0 or > 64)
        {
            yield return $"{section}:{nameof(IndexBuildWorkers)} must be between 0 and 64 (was {IndexBuildWorkers}).";
        }

        if (!(TargetRecall is > 0 and <= 1))
        {
            yield return $"{section}:{nameof(TargetRecall)} must be above 0 and at most 1 (was {TargetRecall}).";
        }

        if (RecallSampleSize is < 1 or > 10_000)
        {
            yield return $"{section}:{nameof(RecallSampleSize)} must be between 1 and 10000 (was {RecallSampleSize}).";
        }

        if (DropGrace < TimeSpan.Zero)
        {
            yield return $"{section}:{nameof(DropGrace)} must not be negative (was {DropGrace}).";
        }
    }
}
