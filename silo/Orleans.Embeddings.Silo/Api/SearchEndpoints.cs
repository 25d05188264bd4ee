using System.Text.Json;
using Orleans.Embeddings.Search;

namespace Orleans.Embeddings.Silo.Api;

/// <summary>
/// Search over HTTP: <c>GET /collections/{collection}/search?q=…&amp;k=…&amp;filter=…&amp;version=…&amp;routingKey=…&amp;exact=…</c> and
/// <c>POST</c> with a JSON body of the same fields (also under <c>/api/collections/…</c>). The search token or the
/// operator token is required (401 without). An invalid request is 400, an unknown collection or version 404.
/// </summary>
public static class SearchEndpoints
{
    /// <summary>Maps the endpoints.</summary>
    public static void MapSearchEndpoints(this IEndpointRouteBuilder app, BearerTokens tokens)
    {
        ArgumentNullException.ThrowIfNull(app);
        foreach (var prefix in new[] { "/collections/{collection}", "/api/collections/{collection}" })
        {
            var search = app.MapGroup(prefix).AddEndpointFilter(async (context, next) =>
            {
                if (tokens.RoleOf(context.HttpContext.Request) != ApiRole.None)
                {
                    return await next(context).ConfigureAwait(false);
                }

                context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
                return Results.Json(new ApiError("a search or operator bearer token is required (Authorization: Bearer <token>)"), RolloutEndpoints.Json, statusCode: StatusCodes.Status401Unauthorized);
            });

            // exact is bound as text so that a bad value is a 400 naming it, not the framework's empty 400.
            search.MapGet("/search", (string collection, string? q, int? k, string[]? filter, string? version, string? routingKey, int? efSearch, bool? content, string[]? presentIn, string? exact, IGrainFactory grains) =>
                RespondAsync(() => SearchAsync(grains, collection, new HttpSearchRequest(q, k, filter, version, routingKey, efSearch, content, presentIn, ParseFlag("exact", exact)))));
            search.MapPost("/search", (string collection, HttpSearchRequest body, IGrainFactory grains) =>
                RunAsync(grains, collection, body));
            search.MapPost("/feedback", (string collection, HttpFeedbackRequest body, IGrainFactory grains) =>
                RespondAsync(async () =>
                {
                    await grains.GetGrain<ISearchGrain>(0).RecordFeedbackAsync(
                        collection, Guid.TryParse(body.QueryId, out var id) ? id : throw new FormatException($"queryId '{body.QueryId}' is not a search's query id."),
                        body.DocumentId ?? string.Empty, body.Kind ?? "click").ConfigureAwait(false);
                    return new { recorded = true };
                }));
            search.MapPost("/coverage", (string collection, HttpCoverageRequest body, IGrainFactory grains) =>
                RespondAsync(async () => await grains.GetGrain<ISearchGrain>(0).GetCoverageAsync(collection, body.Versions ?? [], body.Ids ?? []).ConfigureAwait(false)));
        }
    }

    private static Task<IResult> RunAsync(IGrainFactory grains, string collection, HttpSearchRequest body) => RespondAsync(() => SearchAsync(grains, collection, body));

    private static async Task<HttpSearchResponse> SearchAsync(IGrainFactory grains, string collection, HttpSearchRequest body)
    {
        var request = new SearchRequest(collection, body.Query ?? string.Empty)
        {
            K = body.K ?? SearchRequest.DefaultK,
            Filters = [.. (body.Filter ?? []).Select(SearchFilter.Parse)],
            Version = body.Version,
            RoutingKey = body.RoutingKey,
            EfSearch = body.EfSearch,
            IncludeContent = body.Content ?? false,
            PresentIn = body.PresentIn ?? [],
            Exact = body.Exact ?? false,
        };
        return HttpSearchResponse.From(await grains.GetGrain<ISearchGrain>(0).SearchAsync(request).ConfigureAwait(false));
    }

    private static bool? ParseFlag(string name, string? value) => value switch
    {
        null or "" => null,
        _ when bool.TryParse(value, out var flag) => flag,
        _ => throw new FormatException($"{name} '{value}' is not true or false."),
    };

    private static async Task<IResult> RespondAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return Results.Json(await call().ConfigureAwait(false), RolloutEndpoints.Json);
        }
        catch (FormatException ex)
        {
            return Results.Json(new ApiError(ex.Message), RolloutEndpoints.Json, statusCode: StatusCodes.Status400BadRequest);
        }
        catch (SearchException ex)
        {
            var status = ex.Kind == SearchErrorKind.InvalidRequest ? StatusCodes.Status400BadRequest : StatusCodes.Status404NotFound;
            return Results.Json(new ApiError(ex.Message), RolloutEndpoints.Json, statusCode: status);
        }
    }
}

/// <summary>Feedback on a hit of a search.</summary>
/// <param name="QueryId">The search's queryId.</param>
/// <param name="DocumentId">The hit.</param>
/// <param name="Kind">What happened (default click).</param>
public sealed record HttpFeedbackRequest(string? QueryId, string? DocumentId, string? Kind);

/// <summary>Which documents versions hold.</summary>
/// <param name="Versions">The versions.</param>
/// <param name="Ids">Document ids to check.</param>
public sealed record HttpCoverageRequest(string[]? Versions, string[]? Ids);

/// <summary>A search over HTTP (the GET query string has the same names; <c>q</c> is the query).</summary>
/// <param name="Query">The query text.</param>
/// <param name="K">How many hits (default 10).</param>
/// <param name="Filter">Filters in text form: <c>field=text</c>, <c>field:=json</c>, <c>field&gt;=n</c>, <c>field&lt;=n</c>.</param>
/// <param name="Version">A version to search instead of the traffic split.</param>
/// <param name="RoutingKey">What the split is sticky by.</param>
/// <param name="EfSearch">HNSW candidate list size.</param>
/// <param name="Content">Whether hits carry the document's content.</param>
/// <param name="PresentIn">Other versions that must also hold each hit (evaluation of a loading version).</param>
/// <param name="Exact">Rank every row of the pinned version exactly instead of using its ANN index (slow; evaluation only; needs <c>version</c>).</param>
public sealed record HttpSearchRequest(
    [property: System.Text.Json.Serialization.JsonPropertyName("q")] string? Query,
    int? K,
    string[]? Filter,
    string? Version,
    string? RoutingKey,
    int? EfSearch,
    bool? Content,
    string[]? PresentIn = null,
    bool? Exact = null);

/// <summary>A search answer over HTTP: metadata as JSON objects, not strings.</summary>
public sealed record HttpSearchResponse(Guid QueryId, string Collection, string Version, bool Pinned, long Epoch, IReadOnlyList<HttpSearchHit> Hits, double EmbedMilliseconds, double SearchMilliseconds)
{
    /// <summary>Converts the grain's answer.</summary>
    public static HttpSearchResponse From(SearchResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return new HttpSearchResponse(
            response.QueryId,
            response.Collection,
            response.Version,
            response.Pinned,
            response.Epoch,
            [.. response.Hits.Select(h => new HttpSearchHit(h.Id, h.Score, JsonDocument.Parse(h.MetadataJson).RootElement.Clone(), h.Content, h.Version))],
            response.EmbedMilliseconds,
            response.SearchMilliseconds);
    }
}

/// <summary>One hit over HTTP.</summary>
public sealed record HttpSearchHit(string Id, double Score, JsonElement Metadata, string? Content, string Version);
