using System.Text.Json;
using System.Text.Json.Serialization;
using Orleans.Embeddings.Rollouts;

namespace Orleans.Embeddings.Silo.Api;

/// <summary>
/// The operator API over each collection's version coordinator: <c>/api/collections/{collection}/models</c> and
/// <c>/api/collections/{collection}/rollout/…</c>. Every call needs the operator bearer token: none (or a wrong one)
/// gets 401, the search token 403. A refused command is 409 with the coordinator's reason; bad arguments are 400.
/// </summary>
public static class RolloutEndpoints
{
    /// <summary>How the API writes JSON: camelCase, enums as names.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    /// <summary>Maps the endpoints.</summary>
    public static void MapRolloutEndpoints(this IEndpointRouteBuilder app, BearerTokens tokens)
    {
        ArgumentNullException.ThrowIfNull(app);
        var api = app.MapGroup("/api/collections/{collection}").RequireOperator(tokens);
        app.MapGroup("/api").RequireOperator(tokens).MapGet("/collections", (Orleans.Embeddings.Storage.Versions.CollectionCatalog catalog) =>
            Run(() => catalog.ListCollectionsAsync()));

        api.MapGet("/models", (string collection, IGrainFactory grains) =>
            Run(async () => (await Coordinator(grains, collection).GetStatusAsync()).Versions));
        api.MapPost("/models", (string collection, VersionModelRequest body, IGrainFactory grains) =>
            Run(() => Coordinator(grains, collection).RegisterModelAsync(Required(body.Version, "version"), body.ToRegistration())));
        api.MapGet("/rollout", (string collection, IGrainFactory grains) =>
            Run(async () =>
            {
                var status = await Coordinator(grains, collection).GetStatusAsync();
                return status.Versions.IsEmpty && status.Epoch == 0 ? throw new KeyNotFoundException($"Collection {collection} does not exist.") : status;
            }));
        api.MapGet("/settings", (string collection, Orleans.Embeddings.Storage.Versions.CollectionCatalog catalog) =>
            Run(() => catalog.GetSettingsAsync(collection)));
        api.MapPost("/settings", (string collection, CollectionSettingsRequest body, Orleans.Embeddings.Storage.Versions.CollectionCatalog catalog) =>
            Run(() => catalog.SetTargetRecallAsync(collection, body.TargetRecall)));
        api.MapGet("/index", (string collection, string? version, Orleans.Embeddings.Collections.VersionIndexes indexes) =>
            Run(() => indexes.GetAsync(collection, Required(version, "version"))));
        api.MapPost("/index", (string collection, VersionRequest body, Orleans.Embeddings.Collections.VersionIndexes indexes) =>
            Run(() => indexes.StartAsync(collection, Required(body.Version, "version"))));
        api.MapGet("/rollout/metrics", (string collection, int? minutes, Orleans.Embeddings.Storage.Search.SearchLog log) =>
            Run(async () =>
            {
                CollectionName(collection);
                var since = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(minutes is > 0 ? minutes.Value : 60);
                return new SearchMetrics(since, await log.ReadVersionStatsAsync(collection, since).ConfigureAwait(false), await log.ReadShadowStatsAsync(collection, since).ConfigureAwait(false));
            }));
        api.MapGet("/rollout/series", (string collection, int? minutes, int? bucketSeconds, Orleans.Embeddings.Storage.Search.SearchLog log) =>
            Run(async () =>
            {
                CollectionName(collection);
                var window = TimeSpan.FromMinutes(minutes is > 0 and <= 7 * 24 * 60 ? minutes.Value : 60);
                var bucket = TimeSpan.FromSeconds(bucketSeconds is > 0 ? bucketSeconds.Value : Math.Max(10, (int)window.TotalSeconds / 60));
                if (window / bucket > 2000)
                {
                    throw new ArgumentException($"bucketSeconds {bucket.TotalSeconds} makes more than 2000 points over {window.TotalMinutes} minutes.");
                }

                // Buckets aligned to the bucket length, so that the points of successive calls line up.
                var now = DateTimeOffset.UtcNow;
                var since = new DateTimeOffset((now - window).UtcTicks / bucket.Ticks * bucket.Ticks, TimeSpan.Zero);
                return new SearchSeries(
                    since, bucket.TotalSeconds,
                    await log.ReadVersionSeriesAsync(collection, since, bucket).ConfigureAwait(false),
                    await log.ReadShadowSeriesAsync(collection, since, bucket).ConfigureAwait(false));
            }));
        api.MapGet("/dead-letters", (string collection, int? latest, Orleans.Embeddings.Streaming.DeadLetters.DeadLetterStore letters) =>
            Run(() => letters.SummarizeAsync(CollectionName(collection), latest: Math.Clamp(latest ?? 10, 0, 100))));
        api.MapPost("/rollout/start", (string collection, VersionRequest body, IGrainFactory grains) =>
            Run(() => Coordinator(grains, collection).StartRolloutAsync(Required(body.Version, "version"))));
        api.MapPost("/rollout/traffic", (string collection, TrafficRequest body, IGrainFactory grains) =>
            Run(() => Coordinator(grains, collection).SetTrafficAsync(Required(body.Version, "version"), body.Percent ?? throw new ArgumentException("percent is required."))));
        api.MapPost("/rollout/freeze", (string collection, FreezeRequest body, IGrainFactory grains) =>
            Run(() => Coordinator(grains, collection).FreezeAsync(body.Frozen ?? true)));
        api.MapPost("/rollout/promote", (string collection, VersionRequest body, IGrainFactory grains) =>
            Run(() => Coordinator(grains, collection).PromoteAsync(Required(body.Version, "version"))));
        api.MapPost("/rollout/rollback", (string collection, IGrainFactory grains) =>
            Run(() => Coordinator(grains, collection).RollbackAsync()));
        api.MapPost("/rollout/retire", (string collection, VersionRequest body, IGrainFactory grains) =>
            Run(() => Coordinator(grains, collection).RetireAsync(Required(body.Version, "version"))));
        api.MapPost("/rollout/repair", (string collection, VersionRequest body, IGrainFactory grains) =>
            Run(() => Coordinator(grains, collection).RepairAsync(Required(body.Version, "version"))));
        api.MapPost("/rollout/cancel", (string collection, IGrainFactory grains) =>
            Run(() => Coordinator(grains, collection).CancelAsync()));
    }

    /// <summary>Lets a group's calls through only with the operator token: none or a wrong one is 401, the search token 403.</summary>
    public static RouteGroupBuilder RequireOperator(this RouteGroupBuilder group, BearerTokens tokens)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(tokens);
        return group.AddEndpointFilter(async (context, next) =>
        {
            switch (tokens.RoleOf(context.HttpContext.Request))
            {
                case ApiRole.Operator:
                    return await next(context).ConfigureAwait(false);
                case ApiRole.Search:
                    return Results.Json(new ApiError("this token may search but not drive rollouts; use the operator token"), Json, statusCode: StatusCodes.Status403Forbidden);
                default:
                    context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
                    return Results.Json(new ApiError("an operator bearer token is required (Authorization: Bearer <token>)"), Json, statusCode: StatusCodes.Status401Unauthorized);
            }
        });
    }

    // A name that cannot be a collection is refused (400) before it activates a coordinator.
    private static IVersionCoordinatorGrain Coordinator(IGrainFactory grains, string collection) =>
        grains.GetGrain<IVersionCoordinatorGrain>(CollectionName(collection));

    private static string CollectionName(string collection) => Orleans.Embeddings.Storage.Naming.StorageNames.Validate(collection, "collection");

    private static string Required(string? value, string name) =>
        string.IsNullOrWhiteSpace(value) ? throw new ArgumentException($"{name} is required.") : value;

    private static async Task<IResult> Run<T>(Func<Task<T>> command)
    {
        try
        {
            return Results.Json(await command().ConfigureAwait(false), Json);
        }
        catch (RolloutCommandException ex)
        {
            return Results.Json(new ApiError(ex.Message), Json, statusCode: StatusCodes.Status409Conflict);
        }
        catch (ArgumentException ex)
        {
            return Results.Json(new ApiError(ex.Message), Json, statusCode: StatusCodes.Status400BadRequest);
        }
        catch (KeyNotFoundException ex)
        {
            return Results.Json(new ApiError(ex.Message), Json, statusCode: StatusCodes.Status404NotFound);
        }
    }
}

/// <summary>Per-version search figures and shadow comparisons since a time (the online A/B evidence).</summary>
public sealed record SearchMetrics(
    DateTimeOffset Since, IReadOnlyList<Orleans.Embeddings.Storage.Search.VersionSearchStats> Versions, IReadOnlyList<Orleans.Embeddings.Storage.Search.ShadowStats> Shadow);

/// <summary>Per-version search figures and shadow comparisons per time bucket (the console's plots).</summary>
/// <param name="Since">The start of the first bucket.</param>
/// <param name="BucketSeconds">The length of a bucket.</param>
/// <param name="Versions">Points per bucket and version (buckets without searches have none).</param>
/// <param name="Shadow">Points per bucket and version pair.</param>
public sealed record SearchSeries(
    DateTimeOffset Since, double BucketSeconds, IReadOnlyList<Orleans.Embeddings.Storage.Search.VersionSearchPoint> Versions, IReadOnlyList<Orleans.Embeddings.Storage.Search.ShadowPoint> Shadow);

/// <summary>An error body.</summary>
public sealed record ApiError(string Error);

/// <summary>A body naming a version.</summary>
public sealed record VersionRequest(string? Version);

/// <summary>
/// A model registration: the version, its document model folder and, optionally, how it stores vectors
/// (<c>representation</c>: vector, halfvec or binary), a Matryoshka length (<c>dimensions</c>), a query model folder
/// (<c>queryModelPath</c>) and, for binary, the rerank oversample (<c>rerankOversample</c>) and bits per dimension (<c>binaryBits</c>).
/// </summary>
public sealed record VersionModelRequest(
    string? Version, string? ModelPath, string? Representation = null, int? Dimensions = null, string? QueryModelPath = null, int? RerankOversample = null, int? BinaryBits = null)
{
    /// <summary>The registration the coordinator takes.</summary>
    /// <exception cref="ArgumentException">The model path is missing or the representation is unknown.</exception>
    public ModelRegistration ToRegistration() =>
        new(string.IsNullOrWhiteSpace(ModelPath) ? throw new ArgumentException("modelPath is required.") : ModelPath)
        {
            Representation = ModelRegistration.ParseRepresentation(Representation),
            Dimensions = Dimensions,
            QueryModelPath = QueryModelPath,
            RerankOversample = RerankOversample,
            BinaryBits = BinaryBits,
        };
}

/// <summary>
/// A collection's settings: <c>targetRecall</c>, the recall@10 its versions' ef_search is tuned for (above 0, at most 1;
/// null: the silo's default). A version takes a new target when its index is next measured (<c>models index</c>).
/// </summary>
public sealed record CollectionSettingsRequest(double? TargetRecall);

/// <summary>A traffic change.</summary>
public sealed record TrafficRequest(string? Version, int? Percent);

/// <summary>A freeze or unfreeze.</summary>
public sealed record FreezeRequest(bool? Frozen);
