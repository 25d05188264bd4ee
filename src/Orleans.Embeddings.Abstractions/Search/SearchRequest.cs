namespace Orleans.Embeddings.Search;

/// <summary>One search call: a text embedded with the chosen version, then a k-nearest-neighbour search of that version's table.</summary>
/// <param name="Collection">The collection to search.</param>
/// <param name="Text">The query text (not empty).</param>
[GenerateSerializer, Immutable]
public sealed record SearchRequest([property: Id(0)] string Collection, [property: Id(1)] string Text)
{
    /// <summary>Default <see cref="K"/>.</summary>
    public const int DefaultK = 10;

    /// <summary>The most hits one call returns.</summary>
    public const int MaxK = 1000;

    /// <summary>The longest query text searched, in characters (a query is a phrase, not a document).</summary>
    public const int MaxTextLength = 16_384;

    /// <summary>How many hits to return (1-1000).</summary>
    [Id(2)]
    public int K { get; init; } = DefaultK;

    /// <summary>Conditions on metadata, combined with AND.</summary>
    [Id(3)]
    public IReadOnlyList<SearchFilter> Filters { get; init; } = [];

    /// <summary>
    /// The key the traffic split is sticky by (a user or session id): the same key gets the same version at a given
    /// weight. Null: each call is assigned at random, in proportion to the weights.
    /// </summary>
    [Id(4)]
    public string? RoutingKey { get; init; }

    /// <summary>
    /// A version to search instead of the traffic split. A pinned version is searched whatever its state, so a version
    /// still loading answers from the documents it holds so far (evaluation relies on this); unpinned calls only reach
    /// versions with traffic, which are complete.
    /// </summary>
    [Id(5)]
    public string? Version { get; init; }

    /// <summary>HNSW candidate list size; null: the storage default (100). Raised to <see cref="K"/> when smaller.</summary>
    [Id(6)]
    public int? EfSearch { get; init; }

    /// <summary>Whether hits carry the document's content.</summary>
    [Id(7)]
    public bool IncludeContent { get; init; }

    /// <summary>
    /// Other versions that must also hold each hit (live): an evaluation that compares a version still loading with a
    /// complete one restricts both to the documents both hold.
    /// </summary>
    [Id(8)]
    public IReadOnlyList<string> PresentIn { get; init; } = [];

    /// <summary>
    /// Ranks every matching row of the version's table exactly instead of using its ANN index (slow: for evaluation,
    /// such as measuring a version's index recall against its exact answer). Only with a pinned <see cref="Version"/>:
    /// an exact search is a measurement of one named version, not traffic, so it is never routed by the split and never
    /// shadowed. <see cref="EfSearch"/> does not apply.
    /// </summary>
    [Id(9)]
    public bool Exact { get; init; }
}
