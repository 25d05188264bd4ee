using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using Orleans.Embeddings.Indexing;
using Orleans.Embeddings.Routing;
using Orleans.Embeddings.Storage.Search;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Workers;

namespace Orleans.Embeddings.Search;

/// <summary>
/// What <see cref="ISearchGrain"/> does, outside the grain: chooses one version (the pinned one, or by the traffic split
/// of this silo's routing), embeds the query with a worker of that version (query lane, the manifest's query prefix)
/// and searches that version's table. A plain class, so its awaits need not come back to an activation's scheduler:
/// on a small machine each such hop costs a measurable share of a millisecond search.
/// </summary>
public sealed class SearchExecutor(RoutingCache routing, VersionTableCache tables, WorkerRouter workers, VectorSearch search, VersionCoverage coverage)
{
    /// <summary>Runs one search.</summary>
    /// <exception cref="SearchException">The request is invalid, or names an unknown collection or version.</exception>
    public async Task<SearchResponse> SearchAsync(SearchRequest request)
    {
        Validate(request);
        var filters = ToStorage(request.Filters);
        var presentIn = await TablesAsync(request.Collection, request.PresentIn).ConfigureAwait(false);
        for (var attempt = 0; ; attempt++)
        {
            var (routingTable, version, table) = await ChooseAsync(request.Collection, request.Version, request.RoutingKey).ConfigureAwait(false);
            var clock = Stopwatch.StartNew();
            var query = await workers.EmbedQueryAsync(request.Collection, version, request.Text).ConfigureAwait(false);
            var embedded = clock.Elapsed;
            try
            {
                var hits = await search.SearchAsync(table, new VectorSearchRequest(query, request.K)
                {
                    EfSearch = request.EfSearch ?? VectorSearchRequest.DefaultEfSearch,
                    Filters = filters,
                    IncludeContent = request.IncludeContent,
                    PresentIn = presentIn,
                }).ConfigureAwait(false);
                return new SearchResponse(
                    request.Collection,
                    version,
                    request.Version is not null,
                    routingTable.Epoch,
                    [.. hits.Select(h => new SearchHit(h.Id, h.Score, h.MetadataJson, h.Content, h.Version))],
                    embedded.TotalMilliseconds,
                    (clock.Elapsed - embedded).TotalMilliseconds);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
            {
                // The version was retired between choosing it and searching it (its table is dropped only after every
                // silo routes past it, so this silo's routing is stale): choose again by the current routing.
                tables.Forget(request.Collection, version);
                if (request.Version is not null || attempt > 0)
                {
                    throw new SearchException(SearchErrorKind.UnknownVersion, $"Version {version} of collection {request.Collection} was retired.");
                }

                await routing.RefreshAsync(request.Collection).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Embeds texts with one version, without writing them.</summary>
    /// <exception cref="SearchException">The request is invalid, or names an unknown collection or version.</exception>
    public async Task<EmbedResponse> EmbedAsync(string collection, string? version, string? routingKey, IReadOnlyList<string> texts, TextKind kind)
    {
        RequireCollection(collection);
        if (texts is null || texts.Count == 0)
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, "There are no texts to embed.");
        }

        if (texts.Count > ISearchGrain.MaxEmbedTexts)
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, $"One call embeds at most {ISearchGrain.MaxEmbedTexts} texts (got {texts.Count}).");
        }

        for (var i = 0; i < texts.Count; i++)
        {
            if (texts[i] is null)
            {
                throw new SearchException(SearchErrorKind.InvalidRequest, $"Text {i} is null.");
            }
        }

        var (_, chosen, _) = await ChooseAsync(collection, version, routingKey).ConfigureAwait(false);
        return new EmbedResponse(chosen, await workers.EmbedAsync(collection, chosen, texts, kind).ConfigureAwait(false));
    }

    /// <summary>Live documents per version, and which of <paramref name="ids"/> every version holds.</summary>
    /// <exception cref="SearchException">A collection or version is unknown, or there are too many ids.</exception>
    public async Task<VersionCoverageResponse> GetCoverageAsync(string collection, IReadOnlyList<string> versions, IReadOnlyList<string> ids)
    {
        RequireCollection(collection);
        if (versions is null || versions.Count == 0)
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, "Name at least one version.");
        }

        if (ids is null || ids.Count > ISearchGrain.MaxEmbedTexts * 16)
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, $"Ask about at most {ISearchGrain.MaxEmbedTexts * 16} ids at once.");
        }

        _ = await routing.GetAsync(collection).ConfigureAwait(false)
            ?? throw new SearchException(SearchErrorKind.UnknownCollection, $"Collection {collection} does not exist.");
        var versionTables = await TablesAsync(collection, versions).ConfigureAwait(false);
        return new VersionCoverageResponse(
            await coverage.CountLiveAsync(versionTables).ConfigureAwait(false),
            await coverage.PresentInAllAsync(versionTables, ids).ConfigureAwait(false));
    }

    private async Task<List<VersionTable>> TablesAsync(string collection, IReadOnlyList<string>? versions)
    {
        var result = new List<VersionTable>();
        foreach (var version in (versions ?? []).Distinct(StringComparer.Ordinal))
        {
            result.Add(await tables.GetAsync(collection, version).ConfigureAwait(false)
                ?? throw new SearchException(SearchErrorKind.UnknownVersion, $"Collection {collection} has no version {version}."));
        }

        return result;
    }

    private async Task<(RoutingTable Routing, string Version, VersionTable Table)> ChooseAsync(string collection, string? pinned, string? routingKey)
    {
        var table = await routing.GetAsync(collection).ConfigureAwait(false)
            ?? throw new SearchException(SearchErrorKind.UnknownCollection, $"Collection {collection} does not exist.");
        string version;
        if (pinned is not null)
        {
            version = pinned;
        }
        else if (table.Traffic.Values.All(w => w <= 0))
        {
            throw new SearchException(SearchErrorKind.UnknownVersion, $"No version of collection {collection} receives search traffic.");
        }
        else
        {
            version = routingKey is null ? TrafficSplit.Choose(table.Traffic, Random.Shared.Next(100)) : TrafficSplit.Choose(table.Traffic, routingKey);
        }

        var versionTable = await tables.GetAsync(collection, version).ConfigureAwait(false)
            ?? throw new SearchException(SearchErrorKind.UnknownVersion, $"Collection {collection} has no version {version}.");
        return (table, version, versionTable);
    }

    private static void Validate(SearchRequest request)
    {
        if (request is null)
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, "The search request is missing.");
        }

        RequireCollection(request.Collection);
        if (string.IsNullOrWhiteSpace(request.Text))
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, "The query text is empty.");
        }

        if (request.K is < 1 or > SearchRequest.MaxK)
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, $"k must be between 1 and {SearchRequest.MaxK} (was {request.K}).");
        }

        if (request.EfSearch is < 1 or > VectorSearchRequest.MaxK)
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, $"ef_search must be between 1 and {VectorSearchRequest.MaxK} (was {request.EfSearch}).");
        }

        if (request.Version is { Length: 0 })
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, "The pinned version is empty; leave it out to use the traffic split.");
        }
    }

    private static void RequireCollection(string collection)
    {
        if (string.IsNullOrWhiteSpace(collection))
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, "The collection is missing.");
        }
    }

    private static List<MetadataFilter> ToStorage(IReadOnlyList<SearchFilter>? filters)
    {
        var converted = new List<MetadataFilter>(filters?.Count ?? 0);
        foreach (var filter in filters ?? [])
        {
            try
            {
                converted.Add(filter.Kind switch
                {
                    SearchFilterKind.Equal => MetadataFilter.Equal(filter.Field, Json(filter)),
                    SearchFilterKind.In => MetadataFilter.In(filter.Field, Json(filter) is { ValueKind: JsonValueKind.Array } array
                        ? array.EnumerateArray().Select(e => (object?)e)
                        : throw new ArgumentException("its values are not a JSON array")),
                    SearchFilterKind.Range => MetadataFilter.Range(filter.Field, filter.Min, filter.Max),
                    _ => throw new ArgumentException($"unknown kind {filter.Kind}"),
                });
            }
            catch (Exception ex) when (ex is ArgumentException or JsonException)
            {
                throw new SearchException(SearchErrorKind.InvalidRequest, $"Filter {filter}: {ex.Message}");
            }
        }

        return converted;
    }

    private static JsonElement Json(SearchFilter filter)
    {
        using var document = JsonDocument.Parse(filter.ValueJson ?? throw new ArgumentException("it has no value"));
        return document.RootElement.Clone();
    }
}
