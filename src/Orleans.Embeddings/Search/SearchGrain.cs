using Orleans.Concurrency;

namespace Orleans.Embeddings.Search;

/// <summary>
/// The search grain: a reentrant stateless worker, activated on the silo that takes the call, so one activation serves
/// many concurrent calls, each of which mostly waits on a worker or PostgreSQL. The work is <see cref="SearchExecutor"/>'s.
/// </summary>
[StatelessWorker]
[Reentrant]
internal sealed class SearchGrain(SearchExecutor executor) : Grain, ISearchGrain
{
    public Task<SearchResponse> SearchAsync(SearchRequest request) => executor.SearchAsync(request);

    public Task<EmbedResponse> EmbedAsync(string collection, string? version, string? routingKey, IReadOnlyList<string> texts, TextKind kind) =>
        executor.EmbedAsync(collection, version, routingKey, texts, kind);

    public Task<VersionCoverageResponse> GetCoverageAsync(string collection, IReadOnlyList<string> versions, IReadOnlyList<string> ids) =>
        executor.GetCoverageAsync(collection, versions, ids);

    public Task RecordFeedbackAsync(string collection, Guid queryId, string documentId, string kind) =>
        executor.RecordFeedbackAsync(collection, queryId, documentId, kind);
}
