using Microsoft.Extensions.Options;
using Orleans.Embeddings.Search;

namespace Orleans.Embeddings.Client.Search;

/// <summary>
/// Searches a collection through the cluster. Every call uses one model version for both the query embedding and
/// the table: the pinned <c>version</c>, or the one the collection's traffic split gives the routing key (sticky: the
/// same key gets the same version at a given weight). Each hit carries the version that produced it.
/// </summary>
public sealed class EmbeddingSearchClient(IGrainFactory grains, IOptions<EmbeddingSearchOptions> options)
{
    /// <summary>Searches <paramref name="collection"/> for <paramref name="text"/>.</summary>
    /// <param name="collection">The collection.</param>
    /// <param name="text">The query text.</param>
    /// <param name="k">How many hits (1-1000); null: <see cref="EmbeddingSearchOptions.DefaultK"/>.</param>
    /// <param name="filter">Conditions on metadata, combined with AND.</param>
    /// <param name="routingKey">What the traffic split is sticky by (a user or session id); null: each call at random.</param>
    /// <param name="version">A version to search instead of the split (even one still loading).</param>
    /// <param name="exact">
    /// Rank every row of <paramref name="version"/> exactly instead of using its ANN index (slow; for evaluation). Needs a
    /// pinned version: an exact search without one is refused.
    /// </param>
    /// <param name="cancellationToken">Stops waiting for the answer.</param>
    /// <exception cref="SearchException">The request is invalid or names an unknown collection or version; the message says which.</exception>
    public Task<SearchResponse> SearchAsync(
        string collection, string text, int? k = null, IReadOnlyList<SearchFilter>? filter = null, string? routingKey = null, string? version = null,
        bool exact = false, CancellationToken cancellationToken = default) =>
        SearchAsync(
            new SearchRequest(collection, text)
            {
                K = k ?? options.Value.DefaultK,
                Filters = filter ?? [],
                RoutingKey = routingKey,
                Version = version,
                Exact = exact,
                EfSearch = options.Value.EfSearch,
                IncludeContent = options.Value.IncludeContent,
            },
            cancellationToken);

    /// <summary>Runs a fully specified search.</summary>
    /// <exception cref="SearchException">The request is invalid or names an unknown collection or version.</exception>
    public Task<SearchResponse> SearchAsync(SearchRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return grains.GetGrain<ISearchGrain>(0).SearchAsync(request).WaitAsync(cancellationToken);
    }

    /// <summary>Embeds texts with one version of a collection (null: by the split for <paramref name="routingKey"/>).</summary>
    /// <exception cref="SearchException">The request is invalid or names an unknown collection or version.</exception>
    public Task<EmbedResponse> EmbedAsync(
        string collection, IReadOnlyList<string> texts, string? version = null, TextKind kind = TextKind.Query, string? routingKey = null,
        CancellationToken cancellationToken = default) =>
        grains.GetGrain<ISearchGrain>(0).EmbedAsync(collection, version, routingKey, texts, kind).WaitAsync(cancellationToken);

    /// <summary>How many live documents each version holds, and which of <paramref name="ids"/> all of them hold.</summary>
    /// <exception cref="SearchException">A collection or version is unknown.</exception>
    public Task<VersionCoverageResponse> GetCoverageAsync(string collection, IReadOnlyList<string> versions, IReadOnlyList<string> ids, CancellationToken cancellationToken = default) =>
        grains.GetGrain<ISearchGrain>(0).GetCoverageAsync(collection, versions, ids).WaitAsync(cancellationToken);

    /// <summary>
    /// Records feedback on a hit of a search (its <see cref="SearchResponse.QueryId"/>): "click" counts for the
    /// per-version click-through at 10 that an A/B comparison reads. Repeating it changes nothing.
    /// </summary>
    /// <exception cref="SearchException">The kind or document id is malformed.</exception>
    public Task RecordFeedbackAsync(string collection, Guid queryId, string documentId, string kind = "click", CancellationToken cancellationToken = default) =>
        grains.GetGrain<ISearchGrain>(0).RecordFeedbackAsync(collection, queryId, documentId, kind).WaitAsync(cancellationToken);
}
