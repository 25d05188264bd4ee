namespace Orleans.Embeddings.Search;

/// <summary>One search result.</summary>
/// <param name="Id">The document id.</param>
/// <param name="Score">Higher is closer: cosine similarity, inner product or −L2 distance, by the version's metric.</param>
/// <param name="MetadataJson">The document's metadata (a JSON object).</param>
/// <param name="Content">The document's content when it was asked for; otherwise null.</param>
/// <param name="Version">The model version that embedded the query and whose table holds the hit.</param>
[GenerateSerializer, Immutable]
public sealed record SearchHit(
    [property: Id(0)] string Id,
    [property: Id(1)] double Score,
    [property: Id(2)] string MetadataJson,
    [property: Id(3)] string? Content,
    [property: Id(4)] string Version);
