using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using System.Text.Json;
using Npgsql;
using Orleans.Embeddings.Hosting;
using Orleans.Embeddings.Indexing;
using Orleans.Embeddings.Routing;
using Orleans.Embeddings.Storage;
using Orleans.Embeddings.Storage.Naming;
using Orleans.Embeddings.Storage.Search;
using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Workers;

namespace Orleans.Embeddings.Search;

/// <summary>
/// What <see cref="ISearchGrain"/> does, outside the grain: chooses one version (the pinned one, or by the traffic split
/// of this silo's routing), embeds the query with a worker of that version (query lane, the manifest's query prefix)
/// and searches that version's table. A plain class, so its awaits need not come back to an activation's scheduler:
/// on a small machine each such hop costs a measurable share of a millisecond search.
/// </summary>
/// <remarks>
/// Every search is recorded (<see cref="SearchRecorder"/>). A sample of unpinned searches is shadowed: after the answer,
/// the same query runs on a candidate version (another write target that is complete: it has traffic or its HNSW index) on this
/// silo's background shadow loop, and the two hit lists are compared. The loop drops a shadow search when its queue is
/// full or the candidate's local query lane has queries waiting, so shadow work never delays a caller.
/// </remarks>
public sealed class SearchExecutor(
    RoutingCache routing, VersionTableCache tables, WorkerRouter workers, VectorSearch search, VersionCoverage coverage,
    SearchRecorder recorder, SearchLog log, HnswIndexBuilder indexes, LocalWorkers localWorkers, IOptions<IndexerOptions> options)
    : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly Channel<ShadowJob> _shadows = Channel.CreateBounded<ShadowJob>(new BoundedChannelOptions(Math.Max(1, options.Value.Search.ShadowQueue))
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    private readonly ConcurrentDictionary<(string, string), (bool Complete, long Until)> _complete = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task _shadowLoop = Task.CompletedTask;

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
            var queryId = Guid.CreateVersion7();
            var at = DateTimeOffset.UtcNow;
            var clock = Stopwatch.StartNew();
            try
            {
                var query = await workers.EmbedQueryAsync(request.Collection, version, request.Text).ConfigureAwait(false);
                var embedded = clock.Elapsed;
                var hits = await search.SearchAsync(table, new VectorSearchRequest(query, request.K)
                {
                    EfSearch = request.EfSearch,
                    Filters = filters,
                    IncludeContent = request.IncludeContent,
                    PresentIn = presentIn,
                    Exact = request.Exact,
                }).ConfigureAwait(false);
                var elapsed = clock.Elapsed;
                var response = new SearchResponse(
                    request.Collection,
                    version,
                    request.Version is not null,
                    routingTable.Epoch,
                    [.. hits.Select(h => new SearchHit(h.Id, h.Score, h.MetadataJson, h.Content, h.Version))],
                    embedded.TotalMilliseconds,
                    (elapsed - embedded).TotalMilliseconds)
                { QueryId = queryId };
                var ids = hits.Select(h => h.Id).ToArray();
                recorder.Record(new SearchLogEntry(queryId, request.Collection, version, at, elapsed.TotalMilliseconds, ids, Failed: false));
                if (request.Version is null && !request.Exact)
                {
                    MaybeShadow(request, routingTable, version, queryId, ids, elapsed.TotalMilliseconds, filters);
                }

                return response;
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
            catch (Exception ex) when (ex is not SearchException and not OutOfMemoryException)
            {
                recorder.Record(new SearchLogEntry(queryId, request.Collection, version, at, clock.Elapsed.TotalMilliseconds, [], Failed: true));
                throw;
            }
        }
    }

    /// <summary>Records feedback on a hit of a search.</summary>
    /// <exception cref="SearchException">The kind or the document id is malformed.</exception>
    public Task RecordFeedbackAsync(string collection, Guid queryId, string documentId, string kind)
    {
        RequireCollection(collection);
        if (queryId == Guid.Empty)
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, "The query id is missing (it is the queryId of a search's answer).");
        }

        if (string.IsNullOrEmpty(documentId) || documentId.Length > 512 || PostgresText.ContainsNul(documentId))
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, "The document id must be 1-512 characters, without NUL (U+0000).");
        }

        if (string.IsNullOrEmpty(kind) || kind.Length > 32 || !kind.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '-') || !char.IsAsciiLetterLower(kind[0]))
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, $"The feedback kind '{kind}' is not a lower-case word of at most 32 characters (such as click).");
        }

        return log.RecordFeedbackAsync(queryId, documentId, kind);
    }

    /// <inheritdoc />
    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(
            nameof(SearchExecutor),
            ServiceLifecycleStage.ApplicationServices,
            _ =>
            {
                _shadowLoop = Task.Run(() => RunShadowsAsync(_stopping.Token));
                return Task.CompletedTask;
            },
            async _ =>
            {
                await _stopping.CancelAsync().ConfigureAwait(false);
                _shadows.Writer.TryComplete();
                await _shadowLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            });
    }

    /// <inheritdoc />
    public void Dispose() => _stopping.Dispose();

    private void MaybeShadow(SearchRequest request, RoutingTable routingTable, string version, Guid queryId, string[] hits, double latency, List<MetadataFilter> filters)
    {
        var rate = options.Value.Search.ShadowSampleRate;
        if (rate <= 0 || Random.Shared.NextDouble() >= rate)
        {
            return;
        }

        var candidate = routingTable.WriteTargets.Where(v => v != version).Order(StringComparer.Ordinal).FirstOrDefault();
        if (candidate is not null && !_shadows.Writer.TryWrite(new ShadowJob(request, routingTable, version, candidate, queryId, hits, latency, filters)))
        {
            SearchRecorder.Dropped("shadow");
        }
    }

    private async Task RunShadowsAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var job in _shadows.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await ShadowAsync(job).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
                {
                    recorder.Record(new SearchLogEntry(Guid.CreateVersion7(), job.Request.Collection, job.Candidate, DateTimeOffset.UtcNow, 0, [], Failed: true, ShadowOf: job.QueryId), job.Version);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task ShadowAsync(ShadowJob job)
    {
        var collection = job.Request.Collection;
        if (localWorkers.Find(collection, job.Candidate) is { QueuedQueries: > 0 })
        {
            SearchRecorder.Dropped("shadow");
            return; // the candidate's query lane is busy: shadow work takes only spare capacity
        }

        if (await tables.GetAsync(collection, job.Candidate).ConfigureAwait(false) is not { } table
            || (job.Routing.Traffic.GetValueOrDefault(job.Candidate) <= 0 && !await IsCompleteAsync(table).ConfigureAwait(false)))
        {
            SearchRecorder.Dropped("shadow-incomplete");
            return; // the candidate is gone or still loading: a comparison with it would mean nothing
        }

        var at = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var query = await workers.EmbedQueryAsync(collection, job.Candidate, job.Request.Text).ConfigureAwait(false);
        var hits = await search.SearchAsync(table, new VectorSearchRequest(query, job.Request.K)
        {
            EfSearch = job.Request.EfSearch,
            Filters = job.Filters,
        }).ConfigureAwait(false);
        var ids = hits.Select(h => h.Id).ToArray();
        recorder.Record(
            new SearchLogEntry(
                Guid.CreateVersion7(), collection, job.Candidate, at, clock.Elapsed.TotalMilliseconds, ids, Failed: false, job.QueryId,
                RankOverlap.OverlapAt(job.Hits, ids, job.Request.K), RankOverlap.Rbo(job.Hits, ids, job.Request.K)),
            job.Version,
            job.Latency);
    }

    // A candidate is complete when it has traffic (only complete versions get any), or once the coordinator built its
    // HNSW index (after the last reconciliation pass; checked at most every 30 s per version).
    private async Task<bool> IsCompleteAsync(VersionTable table)
    {
        var key = (table.Collection, table.Version);
        if (_complete.TryGetValue(key, out var known) && known.Until > Environment.TickCount64)
        {
            return known.Complete;
        }

        var complete = await indexes.HasIndexAsync(table).ConfigureAwait(false);
        _complete[key] = (complete, Environment.TickCount64 + 30_000);
        return complete;
    }

    private sealed record ShadowJob(SearchRequest Request, RoutingTable Routing, string Version, string Candidate, Guid QueryId, string[] Hits, double Latency, List<MetadataFilter> Filters);

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
        if (versions is null || versions.Count == 0)
        {
            return result; // every plain search: nothing to look up
        }

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

        if (request.Text.Length > SearchRequest.MaxTextLength)
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, $"The query text has {request.Text.Length:N0} characters; at most {SearchRequest.MaxTextLength:N0} are searched.");
        }

        // PostgreSQL text cannot hold NUL: the search log would fail to record the search.
        if (PostgresText.ContainsNul(request.Text) || PostgresText.ContainsNul(request.RoutingKey))
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, "The query text or routing key contains a NUL character (U+0000).");
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

        if (request.Version is { } version)
        {
            RequireName(version, "version");
        }

        if (request.Exact && request.Version is null)
        {
            // An exact search scans the whole table: it measures one named version, and must not land on whichever
            // version the split picks, nor put full scans on production traffic.
            throw new SearchException(
                SearchErrorKind.InvalidRequest, "An exact search must pin a version (version=…): it ranks every row of that version's table, for evaluation.");
        }
    }

    private static void RequireCollection(string collection)
    {
        if (string.IsNullOrWhiteSpace(collection))
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, "The collection is missing.");
        }

        RequireName(collection, "collection");
    }

    // A name that cannot exist is a malformed request, refused before any lookup.
    private static void RequireName(string name, string kind)
    {
        try
        {
            StorageNames.Validate(name, kind);
        }
        catch (ArgumentException ex)
        {
            throw new SearchException(SearchErrorKind.InvalidRequest, ex.Message);
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
