using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Hosting;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Sessions;
using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Workers;

/// <summary>One ONNX Runtime session per (model version, device) on this silo, loaded from the folder the registry names.</summary>
public sealed class ModelSessions(CollectionCatalog catalog, IOptions<IndexerOptions> options) : IDisposable
{
    private readonly EmbeddingSessionRegistry _registry = new();
    private readonly ConcurrentDictionary<(string, string), Lazy<Task<(VersionTable, EmbeddingModelFolder)>>> _versions = new();

    /// <summary>The table and session of a version on a device.</summary>
    /// <exception cref="InvalidOperationException">The version is not registered, has no model, or its model does not match its table.</exception>
    public async Task<(VersionTable Table, EmbeddingSession Session)> GetAsync(string collection, string version, string device)
    {
        var lazy = _versions.GetOrAdd((collection, version), key => new Lazy<Task<(VersionTable, EmbeddingModelFolder)>>(() => LoadAsync(key.Item1, key.Item2)));
        (VersionTable, EmbeddingModelFolder) loaded;
        try
        {
            loaded = await lazy.Value.ConfigureAwait(false);
        }
        catch
        {
            _versions.TryRemove(new KeyValuePair<(string, string), Lazy<Task<(VersionTable, EmbeddingModelFolder)>>>((collection, version), lazy));
            throw;
        }

        var session = _registry.GetOrCreate(loaded.Item2, new EmbeddingSessionOptions
        {
            Device = InferenceDevice.Parse(device),
            IntraOpThreads = options.Value.IntraOpThreads,
            AllowSpinning = options.Value.OnnxSpinning,
        });
        return (loaded.Item1, session);
    }

    /// <inheritdoc />
    public void Dispose() => _registry.Dispose();

    private async Task<(VersionTable, EmbeddingModelFolder)> LoadAsync(string collection, string version)
    {
        var table = await catalog.GetVersionAsync(collection, version).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Version {version} of collection {collection} is not registered.");
        var path = await catalog.GetModelPathAsync(collection, version).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Version {version} of collection {collection} has no model folder recorded.");
        var folder = EmbeddingModelFolder.Load(path);
        if (folder.Dimensions != table.Dimensions)
        {
            throw new InvalidOperationException(
                $"The model in {path} has {folder.Dimensions} dimensions but version {version} of {collection} stores {table.Dimensions}.");
        }

        return (table, folder);
    }
}
