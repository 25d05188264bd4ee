namespace Orleans.Embeddings.Storage.Versions;

/// <summary>A collection's own settings (<c>embeddings_collections</c>); a null value means the silo's default.</summary>
/// <param name="Collection">The collection.</param>
/// <param name="TargetRecall">
/// The recall@10 the ef_search of each version's HNSW index is tuned for (above 0, at most 1), or null for
/// <see cref="Search.EfSearchTunerOptions.DefaultTargetRecall"/>. A change applies to the versions indexed (or re-measured
/// with <c>embeddings models index</c>) after it.
/// </param>
public sealed record CollectionSettings(string Collection, double? TargetRecall);
