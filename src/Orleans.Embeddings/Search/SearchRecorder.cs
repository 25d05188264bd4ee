using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Diagnostics;
using Orleans.Embeddings.Hosting;
using Orleans.Embeddings.Storage.Search;

namespace Orleans.Embeddings.Search;

/// <summary>
/// Records every search for the A/B figures: OpenTelemetry instruments at once (<c>embeddings.search.requests</c> with
/// the outcome, <c>embeddings.search.duration</c>, <c>embeddings.search.shadow.overlap</c>, <c>.rbo</c> and <c>.latency_delta</c>, tagged with
/// collection and version), and the search log in PostgreSQL in batches, so a status can aggregate every silo's searches.
/// Logging never slows a search: entries wait in a bounded buffer and are dropped (and counted) when it is full.
/// </summary>
public sealed partial class SearchRecorder(SearchLog log, IOptions<IndexerOptions> options, ILogger<SearchRecorder> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private static readonly Meter s_meter = EmbeddingsTelemetry.Meter;
    private static readonly Counter<long> s_requests = s_meter.CreateCounter<long>("embeddings.search.requests", description: "Searches by collection, version and outcome (ok, empty, failed)");
    private static readonly Histogram<double> s_duration = s_meter.CreateHistogram<double>("embeddings.search.duration", "ms", "Query embedding and k-NN inside the silo");
    private static readonly Histogram<double> s_overlap = s_meter.CreateHistogram<double>("embeddings.search.shadow.overlap", description: "Overlap@k of a shadow search with the answer, by version and candidate");
    private static readonly Histogram<double> s_rbo = s_meter.CreateHistogram<double>("embeddings.search.shadow.rbo", description: "Rank-biased overlap of a shadow search with the answer");
    private static readonly Histogram<double> s_latencyDelta = s_meter.CreateHistogram<double>("embeddings.search.shadow.latency_delta", "ms", "A shadow search's latency minus the answer's");
    private static readonly Counter<long> s_dropped = s_meter.CreateCounter<long>("embeddings.search.dropped", description: "Log entries and shadow searches dropped under load, by what");

    private readonly Channel<SearchLogEntry> _pending = Channel.CreateBounded<SearchLogEntry>(new BoundedChannelOptions(Math.Max(1, options.Value.Search.LogCapacity))
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    private readonly CancellationTokenSource _stopping = new();
    private Task _flushing = Task.CompletedTask;

    /// <summary>Records a search (or a shadow search, with its comparison).</summary>
    public void Record(SearchLogEntry entry, string? shadowedVersion = null, double? answerMilliseconds = null)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var tags = new System.Diagnostics.TagList { { "collection", entry.Collection }, { "version", entry.Version } };
        if (entry.ShadowOf is null)
        {
            var withOutcome = tags; // a struct: a copy
            withOutcome.Add("outcome", entry.Failed ? "failed" : entry.Hits.Count == 0 ? "empty" : "ok");
            s_requests.Add(1, withOutcome);
            if (!entry.Failed)
            {
                s_duration.Record(entry.LatencyMilliseconds, tags);
            }
        }
        else if (!entry.Failed)
        {
            tags.Add("answered_by", shadowedVersion);
            s_overlap.Record(entry.Overlap ?? 0, tags);
            s_rbo.Record(entry.Rbo ?? 0, tags);
            if (answerMilliseconds is { } answered)
            {
                s_latencyDelta.Record(entry.LatencyMilliseconds - answered, tags);
            }
        }

        if (options.Value.Search.LogSearches && !_pending.Writer.TryWrite(entry))
        {
            Dropped("log");
        }
    }

    /// <summary>Counts something dropped under load.</summary>
    public static void Dropped(string what) => s_dropped.Add(1, new KeyValuePair<string, object?>("what", what));

    /// <summary>Writes what is buffered now (tests and shutdown).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var batch = new List<SearchLogEntry>();
        while (_pending.Reader.TryRead(out var entry))
        {
            batch.Add(entry);
        }

        foreach (var chunk in batch.Chunk(5_000))
        {
            await log.AppendAsync(chunk, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(
            nameof(SearchRecorder),
            ServiceLifecycleStage.ApplicationServices,
            _ =>
            {
                _flushing = FlushLoopAsync(_stopping.Token);
                return Task.CompletedTask;
            },
            async ct =>
            {
                await _stopping.CancelAsync().ConfigureAwait(false);
                await _flushing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                try
                {
                    await FlushAsync(ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    LogFlushFailed(logger, ex);
                }
            });
    }

    /// <inheritdoc />
    public void Dispose() => _stopping.Dispose();

    private async Task FlushLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.Value.Search.LogFlushInterval);
        var nextPurge = DateTimeOffset.UtcNow + TimeSpan.FromMinutes(1);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await FlushAsync(cancellationToken).ConfigureAwait(false);
                    if (DateTimeOffset.UtcNow >= nextPurge)
                    {
                        nextPurge = DateTimeOffset.UtcNow + TimeSpan.FromHours(1);
                        await log.PurgeAsync(DateTimeOffset.UtcNow - options.Value.Search.LogRetention, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
                {
                    LogFlushFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 6000, Level = LogLevel.Warning, Message = "Writing the search log failed; those entries are lost (searches are unaffected)")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception);
}
