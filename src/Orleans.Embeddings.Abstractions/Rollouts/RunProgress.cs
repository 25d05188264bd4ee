namespace Orleans.Embeddings.Rollouts;

/// <summary>How far a rollout's load or a repair has come.</summary>
/// <param name="Kind"><c>rollout</c> or <c>repair</c>.</param>
/// <param name="Version">The version being loaded or repaired.</param>
/// <param name="From">The version a rollout replaces (null for a repair).</param>
/// <param name="Step">The step in progress: dual-write, loading, reconciling, indexing, ready, promoted, retiring, done.</param>
/// <param name="Pass">The reconciliation pass (1 is the bulk load).</param>
/// <param name="Done">Documents written in this pass.</param>
/// <param name="Total">Documents this pass found to write when it started.</param>
/// <param name="DocumentsPerSecond">Rate over this pass so far.</param>
/// <param name="Eta">Estimated time left in this pass, when the rate is known.</param>
/// <param name="Resumes">How many times a shard range resumed from its checkpoint in this run.</param>
/// <param name="StartedAt">When the run started.</param>
/// <param name="Error">Why the run failed, when it did.</param>
[GenerateSerializer, Immutable]
public sealed record RunProgress(
    [property: Id(0)] string Kind,
    [property: Id(1)] string Version,
    [property: Id(2)] string? From,
    [property: Id(3)] string Step,
    [property: Id(4)] int Pass,
    [property: Id(5)] long Done,
    [property: Id(6)] long Total,
    [property: Id(7)] double DocumentsPerSecond,
    [property: Id(8)] TimeSpan? Eta,
    [property: Id(9)] int Resumes,
    [property: Id(10)] DateTimeOffset StartedAt,
    [property: Id(11)] string? Error);
