using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Hosting;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Sessions;
using Orleans.Embeddings.Inference.Tokenization;
using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Workers;

/// <summary>
/// One ONNX Runtime session per (model, device) on this silo, loaded from the folders the registry names: a version's
/// document model and, when it has one, its separate query model.
/// </summary>
public sealed class ModelSessions(CollectionCatalog catalog, IOptions<IndexerOptions> options) : IDisposable
{
    private readonly EmbeddingSessionRegistry _registry = new();
    private readonly ConcurrentDictionary<(string, string), Lazy<Task<(VersionTable, EmbeddingModelFolder, EmbeddingModelFolder?)>>> _versions = new();

    /// <summary>
    /// The table of a version and its sessions on a device: the document model's, and the query model's (null when
    /// queries use the document model). Vectors longer than the table's dimensions are truncated to them (Matryoshka).
    /// </summary>
    /// <exception cref="InvalidOperationException">The version is not registered, has no model, or its models do not match its table.</exception>
    public async Task<(VersionTable Table, EmbeddingSession Session, EmbeddingSession? QuerySession)> GetAsync(string collection, string version, string device)
    {
        var lazy = _versions.GetOrAdd((collection, version), key => new Lazy<Task<(VersionTable, EmbeddingModelFolder, EmbeddingModelFolder?)>>(() => LoadAsync(key.Item1, key.Item2)));
        (VersionTable, EmbeddingModelFolder, EmbeddingModelFolder?) loaded;
        try
        {
            loaded = await lazy.Value.ConfigureAwait(false);
        }
        catch
        {
            _versions.TryRemove(new KeyValuePair<(string, string), Lazy<Task<(VersionTable, EmbeddingModelFolder, EmbeddingModelFolder?)>>>((collection, version), lazy));
            throw;
        }

        var sessionOptions = new EmbeddingSessionOptions
        {
            Device = InferenceDevice.Parse(device),
            IntraOpThreads = options.Value.IntraOpThreads,
            AllowSpinning = options.Value.OnnxSpinning,
        };
        var session = _registry.GetOrCreate(loaded.Item2, sessionOptions);
        var querySession = loaded.Item3 is { } queryFolder ? _registry.GetOrCreate(queryFolder, sessionOptions) : null;
        return (loaded.Item1, session, querySession);
    }

    /// <inheritdoc />
    public void Dispose() => _registry.Dispose();

    private async Task<(VersionTable, EmbeddingModelFolder, EmbeddingModelFolder?)> LoadAsync(string collection, string version)
    {
        var table = await catalog.GetVersionAsync(collection, version).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Version {version} of collection {collection} is not registered.");
        var (modelPath, queryPath, tokenizerName) = await catalog.GetModelPathsAsync(collection, version).ConfigureAwait(false);
        var path = modelPath ?? throw new InvalidOperationException($"Version {version} of collection {collection} has no model folder recorded.");
        TokenizerRevision tokenizer;
        try
        {
            tokenizer = TokenizerRevisionNames.Parse(tokenizerName ?? TokenizerRevisionNames.MlTokenizersBert20);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidOperationException($"Version {version} of collection {collection} was registered with a tokenizer this silo does not have: {ex.Message}", ex);
        }

        // The version's tokenizer revision, not the newest: queries must be tokenized as the table was (DESIGN invariant 4).
        var folder = EmbeddingModelFolder.Load(path).RegisteredWith(tokenizer);
        if (folder.Dimensions != table.Dimensions && !folder.MatryoshkaDimensions.Contains(table.Dimensions))
        {
            throw new InvalidOperationException(
                $"The model in {path} has {folder.Dimensions} dimensions (Matryoshka lengths: {string.Join(", ", folder.MatryoshkaDimensions)}) but version {version} of {collection} stores {table.Dimensions}.");
        }

        var queryFolder = queryPath is null ? null : EmbeddingModelFolder.Load(queryPath).RegisteredWith(tokenizer);
        if (queryFolder is not null && queryFolder.Dimensions != table.Dimensions && queryFolder.Dimensions != folder.Dimensions)
        {
            throw new InvalidOperationException(
                $"The query model in {queryPath} has {queryFolder.Dimensions} dimensions but version {version} of {collection} stores {table.Dimensions} of a {folder.Dimensions}-dimension model.");
        }

        return (table, folder, queryFolder);
    }
}
