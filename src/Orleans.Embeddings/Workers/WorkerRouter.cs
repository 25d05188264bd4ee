using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Devices;
using Orleans.Embeddings.Diagnostics;
using Orleans.Embeddings.Hosting;
using Orleans.Embeddings.Indexing;
using Orleans.Runtime;

namespace Orleans.Embeddings.Workers;

/// <summary>
/// Picks the embedding worker for a call: a device of this silo when it has one, else any active device, in turn.
/// A call that fails because its silo left (or is leaving) is retried on the remaining devices, and counted
/// (<c>embeddings.worker.retries</c>).
/// </summary>
public sealed class WorkerRouter(IGrainFactory grains, DeviceDirectory devices, ILocalSiloDetails localSilo, IOptions<IndexerOptions> options, LocalWorkers localWorkers)
{
    private static readonly Counter<long> s_retries = EmbeddingsTelemetry.Meter.CreateCounter<long>(
        "embeddings.worker.retries", description: "Worker calls retried on another device because the first one's silo left the cluster");

    private int _next;

    /// <summary>Runs <paramref name="call"/> on a worker of (<paramref name="collection"/>, <paramref name="version"/>).</summary>
    /// <exception cref="InvalidOperationException">No active silo owns a device.</exception>
    public async Task<T> CallAsync<T>(string collection, string version, Func<IEmbeddingWorkerGrain, Task<T>> call)
    {
        ArgumentNullException.ThrowIfNull(call);
        var excluded = new HashSet<SiloAddress>();
        for (var attempt = 0; ; attempt++)
        {
            var device = Pick(excluded)
                ?? throw new InvalidOperationException($"No active silo owns a device to embed {collection}/{version} with.");
            var worker = grains.GetGrain<IEmbeddingWorkerGrain>(new WorkerKey(collection, version, device.Silo, device.Device).ToString());
            try
            {
                return await call(worker).ConfigureAwait(false);
            }
            catch (Exception ex) when (attempt < options.Value.WorkerRetries && IsSiloFailure(ex))
            {
                excluded.Add(device.Address);
                s_retries.Add(1, new KeyValuePair<string, object?>("collection", collection), new KeyValuePair<string, object?>("version", version));
            }
        }
    }

    /// <summary>Runs <paramref name="call"/> on a worker of (<paramref name="collection"/>, <paramref name="version"/>).</summary>
    public Task CallAsync(string collection, string version, Func<IEmbeddingWorkerGrain, Task> call) =>
        CallAsync(collection, version, async worker =>
        {
            await call(worker).ConfigureAwait(false);
            return true;
        });

    /// <summary>
    /// Embeds texts with (<paramref name="collection"/>, <paramref name="version"/>) without writing them: with a worker
    /// active on this silo directly, else through a worker grain as <see cref="CallAsync{T}"/> does.
    /// </summary>
    public Task<float[][]> EmbedAsync(string collection, string version, IReadOnlyList<string> texts, Search.TextKind kind) =>
        LocalOrGrainAsync(collection, version, local => local.EmbedAsync(texts, kind), w => w.EmbedAsync(texts, kind));

    /// <summary>Embeds one search query (the query lane), with a local worker directly when there is one.</summary>
    public Task<float[]> EmbedQueryAsync(string collection, string version, string text) =>
        LocalOrGrainAsync(collection, version, local => local.EmbedQueryAsync(text), w => w.EmbedQueryAsync(text));

    private async Task<T> LocalOrGrainAsync<T>(string collection, string version, Func<LocalEmbedder, Task<T>> local, Func<IEmbeddingWorkerGrain, Task<T>> grain)
    {
        if (localWorkers.Find(collection, version) is { } embedder)
        {
            try
            {
                return await local(embedder).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                // The worker deactivated meanwhile; a grain call activates it again.
            }
        }

        return await CallAsync(collection, version, grain).ConfigureAwait(false);
    }

    private ClusterDevice? Pick(HashSet<SiloAddress> excluded)
    {
        var candidates = devices.ActiveDevices().Where(d => !excluded.Contains(d.Address)).ToList();
        if (candidates.Count == 0)
        {
            return null;
        }

        var local = candidates.Where(d => d.Address.Equals(localSilo.SiloAddress)).ToList();
        var pool = local.Count > 0 ? local : candidates;
        return pool[(Interlocked.Increment(ref _next) & int.MaxValue) % pool.Count];
    }

    private static bool IsSiloFailure(Exception ex) => ex is SiloUnavailableException or OrleansMessageRejectionException or TimeoutException
        || (ex is OrleansException && ex.Message.Contains("owns device", StringComparison.Ordinal));
}
