using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Hosting;
using Orleans.Embeddings.Storage.Search;
using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Collections;

/// <summary>Whether a version's table has its HNSW index.</summary>
public enum VersionIndexState
{
    /// <summary>No index: searches are exact scans.</summary>
    None,

    /// <summary>This silo is building it (<c>CREATE INDEX CONCURRENTLY</c>; writes go on).</summary>
    Building,

    /// <summary>The index exists and this silo is measuring the ef_search that reaches the collection's target recall on it.</summary>
    Tuning,

    /// <summary>The index exists and is valid.</summary>
    Built,

    /// <summary>This silo's last build failed; starting it again retries.</summary>
    Failed,
}

/// <summary>A version's index state, and the ef_search tuned on its index (null before it is measured).</summary>
public sealed record VersionIndexStatus(string Collection, string Version, VersionIndexState State, string? Error = null, EfSearchTuning? EfSearch = null);

/// <summary>
/// Builds the HNSW index of a version on demand. A rollout builds its new version's index itself; a collection's first
/// version is created without one (bulk ingest is far faster into an unindexed table), so its searches are exact scans
/// until the operator (or the demo loader, after its ingest) builds it here. The build runs in the background on this
/// silo with the rollouts' index settings; an interrupted build leaves an invalid index, which the next one drops. After
/// the build, and whenever it is asked again for a version whose index exists, it measures the ef_search that reaches the
/// collection's target recall on the index (<see cref="EfSearchTuner"/>): the data and the target may have changed since.
/// </summary>
public sealed partial class VersionIndexes(
    CollectionCatalog catalog, HnswIndexBuilder builder, EfSearchTuner tuner, IOptions<IndexerOptions> options, ILogger<VersionIndexes> logger)
{
    private readonly ConcurrentDictionary<(string, string), Job> _builds = new();

    /// <summary>The index state of a version.</summary>
    /// <exception cref="KeyNotFoundException">The collection has no such version.</exception>
    public async Task<VersionIndexStatus> GetAsync(string collection, string version, CancellationToken cancellationToken = default)
    {
        var table = await TableAsync(collection, version, cancellationToken).ConfigureAwait(false);
        if (_builds.TryGetValue((collection, version), out var build) && !build.Task.IsCompleted)
        {
            return new VersionIndexStatus(collection, version, build.Phase, EfSearch: table.EfSearchTuning);
        }

        if (build is { Task.IsFaulted: true })
        {
            return new VersionIndexStatus(collection, version, VersionIndexState.Failed, build.Task.Exception!.GetBaseException().Message, table.EfSearchTuning);
        }

        return await builder.HasIndexAsync(table, cancellationToken).ConfigureAwait(false)
            ? new VersionIndexStatus(collection, version, VersionIndexState.Built, EfSearch: table.EfSearchTuning)
            : new VersionIndexStatus(collection, version, VersionIndexState.None);
    }

    /// <summary>
    /// Starts building the index and measuring its ef_search, or, when the index exists, measuring its ef_search again;
    /// nothing when either is in progress. Returns the state.
    /// </summary>
    /// <exception cref="KeyNotFoundException">The collection has no such version.</exception>
    public async Task<VersionIndexStatus> StartAsync(string collection, string version, CancellationToken cancellationToken = default)
    {
        var status = await GetAsync(collection, version, cancellationToken).ConfigureAwait(false);
        if (status.State is VersionIndexState.Building or VersionIndexState.Tuning)
        {
            return status;
        }

        var table = await TableAsync(collection, version, cancellationToken).ConfigureAwait(false);
        lock (_builds)
        {
            if (_builds.TryGetValue((collection, version), out var running) && !running.Task.IsCompleted)
            {
                return status with { State = running.Phase, Error = null }; // another call started one meanwhile
            }

            var job = new Job(status.State == VersionIndexState.Built ? VersionIndexState.Tuning : VersionIndexState.Building);
            job.Task = Task.Run(() => BuildAndTuneAsync(table, job));
            _builds[(collection, version)] = job;
            return status with { State = job.Phase, Error = null };
        }
    }

    /// <summary>Builds the index (or, when it exists, measures its ef_search again) and waits for it.</summary>
    public async Task BuildAsync(string collection, string version, CancellationToken cancellationToken = default)
    {
        var status = await StartAsync(collection, version, cancellationToken).ConfigureAwait(false);
        if (status.State is VersionIndexState.Building or VersionIndexState.Tuning && _builds.TryGetValue((collection, version), out var build))
        {
            await build.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task BuildAndTuneAsync(VersionTable table, Job job)
    {
        if (job.Phase == VersionIndexState.Building)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            LogBuilding(logger, table.Collection, table.Version);
            await builder.BuildAsync(table, options.Value.Rollouts.ToHnswIndexOptions()).ConfigureAwait(false);
            LogBuilt(logger, table.Collection, table.Version, clock.Elapsed.TotalSeconds);
            job.Phase = VersionIndexState.Tuning;
        }

        await tuner.TuneAsync(table).ConfigureAwait(false);
    }

    private async Task<VersionTable> TableAsync(string collection, string version, CancellationToken cancellationToken) =>
        await catalog.GetVersionAsync(collection, version, cancellationToken).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"Collection {collection} has no version {version}.");

    // One build (or measurement) of one version on this silo; the phase moves from Building to Tuning.
    private sealed class Job(VersionIndexState phase)
    {
        private volatile VersionIndexState _phase = phase;

        public VersionIndexState Phase { get => _phase; set => _phase = value; }

        public Task Task { get; set; } = Task.CompletedTask;
    }

    [LoggerMessage(EventId = 6100, Level = LogLevel.Information, Message = "Building the HNSW index of {Collection}/{Version}")]
    private static partial void LogBuilding(ILogger logger, string collection, string version);

    [LoggerMessage(EventId = 6101, Level = LogLevel.Information, Message = "Built the HNSW index of {Collection}/{Version} in {Seconds:F0} s")]
    private static partial void LogBuilt(ILogger logger, string collection, string version, double seconds);
}
