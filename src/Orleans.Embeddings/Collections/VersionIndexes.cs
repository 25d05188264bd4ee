using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Hosting;
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

    /// <summary>The index exists and is valid.</summary>
    Built,

    /// <summary>This silo's last build failed; starting it again retries.</summary>
    Failed,
}

/// <summary>A version's index state.</summary>
public sealed record VersionIndexStatus(string Collection, string Version, VersionIndexState State, string? Error = null);

/// <summary>
/// Builds the HNSW index of a version on demand. A rollout builds its new version's index itself; a collection's first
/// version is created without one (bulk ingest is far faster into an unindexed table), so its searches are exact scans
/// until the operator (or the demo loader, after its ingest) builds it here. The build runs in the background on this
/// silo with the rollouts' index settings; an interrupted build leaves an invalid index, which the next one drops.
/// </summary>
public sealed partial class VersionIndexes(CollectionCatalog catalog, HnswIndexBuilder builder, IOptions<IndexerOptions> options, ILogger<VersionIndexes> logger)
{
    private readonly ConcurrentDictionary<(string, string), Task> _builds = new();

    /// <summary>The index state of a version.</summary>
    /// <exception cref="KeyNotFoundException">The collection has no such version.</exception>
    public async Task<VersionIndexStatus> GetAsync(string collection, string version, CancellationToken cancellationToken = default)
    {
        var table = await TableAsync(collection, version, cancellationToken).ConfigureAwait(false);
        if (_builds.TryGetValue((collection, version), out var build) && !build.IsCompleted)
        {
            return new VersionIndexStatus(collection, version, VersionIndexState.Building);
        }

        if (await builder.HasIndexAsync(table, cancellationToken).ConfigureAwait(false))
        {
            return new VersionIndexStatus(collection, version, VersionIndexState.Built);
        }

        return build is { IsFaulted: true }
            ? new VersionIndexStatus(collection, version, VersionIndexState.Failed, build.Exception!.GetBaseException().Message)
            : new VersionIndexStatus(collection, version, VersionIndexState.None);
    }

    /// <summary>Starts building the index unless it exists or is being built; returns the state.</summary>
    /// <exception cref="KeyNotFoundException">The collection has no such version.</exception>
    public async Task<VersionIndexStatus> StartAsync(string collection, string version, CancellationToken cancellationToken = default)
    {
        var status = await GetAsync(collection, version, cancellationToken).ConfigureAwait(false);
        if (status.State is VersionIndexState.Built or VersionIndexState.Building)
        {
            return status;
        }

        var table = await TableAsync(collection, version, cancellationToken).ConfigureAwait(false);
        _builds[(collection, version)] = Task.Run(() => BuildAsync(table));
        return status with { State = VersionIndexState.Building, Error = null };
    }

    /// <summary>Builds the index and waits for it.</summary>
    public async Task BuildAsync(string collection, string version, CancellationToken cancellationToken = default)
    {
        var status = await StartAsync(collection, version, cancellationToken).ConfigureAwait(false);
        if (status.State == VersionIndexState.Building && _builds.TryGetValue((collection, version), out var build))
        {
            await build.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task BuildAsync(VersionTable table)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        LogBuilding(logger, table.Collection, table.Version);
        await builder.BuildAsync(table, options.Value.Rollouts.ToHnswIndexOptions()).ConfigureAwait(false);
        LogBuilt(logger, table.Collection, table.Version, clock.Elapsed.TotalSeconds);
    }

    private async Task<VersionTable> TableAsync(string collection, string version, CancellationToken cancellationToken) =>
        await catalog.GetVersionAsync(collection, version, cancellationToken).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"Collection {collection} has no version {version}.");

    [LoggerMessage(EventId = 6100, Level = LogLevel.Information, Message = "Building the HNSW index of {Collection}/{Version}")]
    private static partial void LogBuilding(ILogger logger, string collection, string version);

    [LoggerMessage(EventId = 6101, Level = LogLevel.Information, Message = "Built the HNSW index of {Collection}/{Version} in {Seconds:F0} s")]
    private static partial void LogBuilt(ILogger logger, string collection, string version, double seconds);
}
