namespace Orleans.Embeddings.Storage.Search;

/// <summary>recall@10 of a version's index searches at one ef_search, against exact searches.</summary>
/// <param name="EfSearch">The ef_search searched with (for a binary version, at least the rerank candidates).</param>
/// <param name="Recall">The mean over the sample's queries.</param>
/// <param name="MedianMilliseconds">The median search latency at this ef_search.</param>
public sealed record EfSearchMeasurement(int EfSearch, double Recall, double MedianMilliseconds);
