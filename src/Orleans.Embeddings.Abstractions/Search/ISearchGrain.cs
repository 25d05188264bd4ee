namespace Orleans.Embeddings.Search;

/// <summary>
/// Search and embedding calls (a stateless worker, activated on the silo that receives the call). Each call uses one
/// version for both the query embedding and the table (DESIGN invariant 4).
/// </summary>
public interface ISearchGrain : IGrainWithIntegerKey
{
    /// <summary>Chooses a version (the pinned one, or by the traffic split), embeds the text with it and searches its table.</summary>
    /// <exception cref="SearchException">The request is invalid, or names an unknown collection or version.</exception>
    Task<SearchResponse> SearchAsync(SearchRequest request);

    /// <summary>Embeds <paramref name="texts"/> with one version of a collection, without writing anything.</summary>
    /// <param name="collection">The collection.</param>
    /// <param name="version">The version; null: the version the traffic split gives <paramref name="routingKey"/>.</param>
    /// <param name="routingKey">The key for the split when no version is named.</param>
    /// <param name="texts">The texts (at most <see cref="MaxEmbedTexts"/>).</param>
    /// <param name="kind">Embed them as queries or as documents.</param>
    /// <exception cref="SearchException">The request is invalid, or names an unknown collection or version.</exception>
    Task<EmbedResponse> EmbedAsync(string collection, string? version, string? routingKey, IReadOnlyList<string> texts, TextKind kind);

    /// <summary>
    /// How many live documents each of <paramref name="versions"/> holds, and which of <paramref name="ids"/> all of them
    /// hold (at most <see cref="MaxEmbedTexts"/> × 16 ids): what an evaluation of a loading version is restricted to.
    /// </summary>
    /// <exception cref="SearchException">A collection or version is unknown, or there are too many ids.</exception>
    Task<VersionCoverageResponse> GetCoverageAsync(string collection, IReadOnlyList<string> versions, IReadOnlyList<string> ids);

    /// <summary>
    /// Records feedback on a hit of a search (<paramref name="kind"/> "click" counts for click-through at 10, the online A/B
    /// signal per version); repeating it changes nothing.
    /// </summary>
    /// <exception cref="SearchException">The kind or document id is malformed.</exception>
    Task RecordFeedbackAsync(string collection, Guid queryId, string documentId, string kind);

    /// <summary>The most texts one <see cref="EmbedAsync"/> call takes.</summary>
    const int MaxEmbedTexts = 1024;
}

/// <summary>Embeddings of one call, all from one version.</summary>
/// <param name="Version">The version that embedded them.</param>
/// <param name="Vectors">One vector per text, in order.</param>
[GenerateSerializer, Immutable]
public sealed record EmbedResponse([property: Id(0)] string Version, [property: Id(1)] IReadOnlyList<float[]> Vectors);

/// <summary>What versions hold.</summary>
/// <param name="LiveDocuments">Live documents per version.</param>
/// <param name="PresentInAll">Those of the ids asked about that every version holds, in the order asked.</param>
[GenerateSerializer, Immutable]
public sealed record VersionCoverageResponse(
    [property: Id(0)] IReadOnlyDictionary<string, long> LiveDocuments,
    [property: Id(1)] IReadOnlyList<string> PresentInAll);
