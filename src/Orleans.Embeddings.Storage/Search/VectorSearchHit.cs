namespace Orleans.Embeddings.Storage.Search;

/// <summary>One search result.</summary>
/// <param name="Id">The document id.</param>
/// <param name="Score">Higher is closer: cosine similarity, inner product, or −L2 distance, by the version's metric.</param>
/// <param name="MetadataJson">The document's metadata as the version table holds it.</param>
/// <param name="Content">The document's content when it was asked for; otherwise null.</param>
/// <param name="Version">The model version whose table (and query embedding) produced the hit.</param>
public sealed record VectorSearchHit(string Id, double Score, string MetadataJson, string? Content, string Version);
