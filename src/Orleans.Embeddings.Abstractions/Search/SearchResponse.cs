namespace Orleans.Embeddings.Search;

/// <summary>The answer to one search call.</summary>
/// <param name="Collection">The collection searched.</param>
/// <param name="Version">The one version that embedded the query and whose table was searched (every hit carries it too).</param>
/// <param name="Pinned">Whether the caller named the version (otherwise the traffic split chose it).</param>
/// <param name="Epoch">The routing epoch the split was read at.</param>
/// <param name="Hits">The hits, closest first.</param>
/// <param name="EmbedMilliseconds">Time to embed the query on a worker of the version (query lane).</param>
/// <param name="SearchMilliseconds">Time of the k-NN query on the version's table.</param>
[GenerateSerializer, Immutable]
public sealed record SearchResponse(
    [property: Id(0)] string Collection,
    [property: Id(1)] string Version,
    [property: Id(2)] bool Pinned,
    [property: Id(3)] long Epoch,
    [property: Id(4)] IReadOnlyList<SearchHit> Hits,
    [property: Id(5)] double EmbedMilliseconds,
    [property: Id(6)] double SearchMilliseconds)
{
    /// <summary>This search's id: what <see cref="ISearchGrain.RecordFeedbackAsync"/> names (empty for a search that was not logged).</summary>
    [Id(7)]
    public Guid QueryId { get; init; }
}
