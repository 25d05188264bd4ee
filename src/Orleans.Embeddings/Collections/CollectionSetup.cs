using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Sessions;
using Orleans.Embeddings.Inference.Tokenization;
using Orleans.Embeddings.Storage.Routing;
using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Collections;

/// <summary>
/// Creates a collection with its first model version: validates the model folder by loading it and embedding a probe
/// text, registers the version and its table, and routes the collection's writes and search traffic to it.
/// Later versions are rolled out by the version coordinator.
/// </summary>
public sealed class CollectionSetup(CollectionCatalog catalog, RoutingStore routing)
{
    /// <summary>
    /// Creates <paramref name="collection"/> served by <paramref name="version"/> of the model in <paramref name="modelFolder"/>.
    /// Repeating the call with the same arguments changes nothing.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model is unusable, or the collection is already routed to other versions.</exception>
    public async Task<VersionTable> CreateAsync(
        string collection, string version, string modelFolder, VectorElementType elementType = VectorElementType.Vector,
        DistanceMetric distance = DistanceMetric.Cosine, CancellationToken cancellationToken = default)
    {
        var folder = EmbeddingModelFolder.Load(Path.GetFullPath(modelFolder));
        Probe(folder);
        var table = await catalog.RegisterVersionAsync(collection, version, folder.Dimensions, elementType, distance, cancellationToken).ConfigureAwait(false);
        await catalog.SetModelPathAsync(collection, version, folder.Directory, folder.TokenizerRevision.ToName(), cancellationToken).ConfigureAwait(false);

        var current = await routing.GetAsync(collection, cancellationToken).ConfigureAwait(false);
        if (current is null)
        {
            current = await routing.SetAsync(collection, 0, [version], new Dictionary<string, int> { [version] = 100 }, cancellationToken).ConfigureAwait(false)
                ?? await routing.GetAsync(collection, cancellationToken).ConfigureAwait(false);
        }

        if (current is null || !current.WriteTargets.Contains(version))
        {
            throw new InvalidOperationException(
                $"Collection {collection} is already routed to {string.Join(", ", current?.WriteTargets ?? [])}; add version {version} through a rollout instead.");
        }

        return table;
    }

    private static void Probe(EmbeddingModelFolder folder)
    {
        using var session = new EmbeddingSession(folder);
        if (ModelProbe.Check(folder, session.Embed([ModelProbe.Text], EmbeddingPurpose.Document)[0].Vector) is { } problem)
        {
            throw new InvalidOperationException($"The model cannot be used: {problem}.");
        }
    }
}
