namespace Orleans.Embeddings.Storage.Search;

/// <summary>
/// What <see cref="EfSearchTuner"/> measured on a version's HNSW index, as the registry records it: the ef_search its
/// searches use when a request sets none.
/// </summary>
/// <param name="EfSearch">The chosen ef_search: the smallest of the ladder that reached <paramref name="TargetRecall"/>, or, when none did, the one that gave the best recall.</param>
/// <param name="Recall">recall@10 of index searches at <paramref name="EfSearch"/> against exact searches (a hit tied with the exact 10th counts).</param>
/// <param name="TargetRecall">The recall@10 the version was tuned for.</param>
/// <param name="TargetReached">False when no ef_search of the ladder reached the target.</param>
/// <param name="RecallAtDefault">recall@10 at <see cref="VectorSearchRequest.DefaultEfSearch"/>, for comparison.</param>
/// <param name="Queries">How many of the version's stored vectors were searched for.</param>
/// <param name="Seconds">How long the measurement took.</param>
/// <param name="TunedAt">When it finished.</param>
public sealed record EfSearchTuning(
    int EfSearch,
    double Recall,
    double TargetRecall,
    bool TargetReached,
    double RecallAtDefault,
    int Queries,
    double Seconds,
    DateTimeOffset TunedAt)
{
    /// <summary>recall@10 at every ef_search measured, in ladder order (empty when read back from the registry).</summary>
    public IReadOnlyList<EfSearchMeasurement> Measurements { get; init; } = [];
}
