namespace Orleans.Embeddings.Rollouts;

/// <summary>
/// The ef_search measured on a version's HNSW index after it was built (or re-measured by <c>embeddings models index</c>):
/// searches of the version that set no ef_search use it.
/// </summary>
/// <param name="EfSearch">The smallest ef_search of the tuner's ladder that reached <paramref name="TargetRecall"/>; when none did, the one that gave the best recall.</param>
/// <param name="Recall">recall@10 of index searches at <paramref name="EfSearch"/> against exact searches, on a sample of the version's stored vectors.</param>
/// <param name="TargetRecall">The target it was tuned for (the collection's, else the silo's default).</param>
/// <param name="TargetReached">False when no ef_search of the ladder reached the target.</param>
/// <param name="RecallAtDefault">recall@10 at the default ef_search (100), for comparison.</param>
/// <param name="Queries">How many stored vectors were searched for.</param>
/// <param name="Seconds">How long the measurement took.</param>
/// <param name="TunedAt">When it finished.</param>
[GenerateSerializer, Immutable]
public sealed record EfSearchTuningStatus(
    [property: Id(0)] int EfSearch,
    [property: Id(1)] double Recall,
    [property: Id(2)] double TargetRecall,
    [property: Id(3)] bool TargetReached,
    [property: Id(4)] double RecallAtDefault,
    [property: Id(5)] int Queries,
    [property: Id(6)] double Seconds,
    [property: Id(7)] DateTimeOffset TunedAt)
{
    /// <summary>A short description, e.g. <c>ef 60: recall@10 0.953 (target 0.95; 0.981 at ef 100), 250 queries in 6.1 s</c>.</summary>
    public override string ToString() => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"ef {EfSearch}: recall@10 {Recall:F3} ({(TargetReached ? "target" : "below the target")} {TargetRecall:F2}; {RecallAtDefault:F3} at ef 100), {Queries} queries in {Seconds:F1} s");
}
