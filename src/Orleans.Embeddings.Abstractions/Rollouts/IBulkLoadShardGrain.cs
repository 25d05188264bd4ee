namespace Orleans.Embeddings.Rollouts;

/// <summary>
/// Loads one range of a collection's document shards into a version, page by page (keyset pagination, bulk lane,
/// guarded writes), checkpointing its cursor after each page; after a crash it resumes from the checkpoint. Key:
/// <c>collection/version/run/range</c>.
/// </summary>
public interface IBulkLoadShardGrain : IGrainWithStringKey
{
    /// <summary>Makes sure the range runs <paramref name="assignment"/>'s pass (idempotent; resumes a stored cursor).</summary>
    Task EnsureRunningAsync(LoadAssignment assignment);

    /// <summary>Stops the range's work (the run was cancelled or finished).</summary>
    Task StopAsync();
}
