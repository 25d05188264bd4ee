using System.Collections.Concurrent;
using Orleans.Embeddings.Inference.Batching;
using Orleans.Embeddings.Inference.Pooling;
using Orleans.Embeddings.Search;

namespace Orleans.Embeddings.Workers;

/// <summary>
/// The embedding workers active on this silo, by (collection, version), so that a search on this silo embeds its query
/// with the local worker's batcher directly instead of through a grain call to the same silo (two scheduler hops and a
/// message for a query that, with a static model, embeds in microseconds). Only embedding goes this way: the batcher is
/// thread-safe and the worker's other state is not touched. Calls that find no local worker go through the grain.
/// </summary>
public sealed class LocalWorkers
{
    private readonly ConcurrentDictionary<(string Collection, string Version), ImmutableEmbedders> _workers = new();
    private int _next;

    /// <summary>Records an active worker's embedder.</summary>
    public void Add(string collection, string version, LocalEmbedder embedder) =>
        _workers.AddOrUpdate((collection, version), _ => new([embedder]), (_, list) => new([.. list.Items, embedder]));

    /// <summary>Forgets a worker that is deactivating.</summary>
    public void Remove(string collection, string version, LocalEmbedder embedder) =>
        _workers.AddOrUpdate((collection, version), _ => new([]), (_, list) => new([.. list.Items.Where(e => e != embedder)]));

    /// <summary>A local worker's embedder for (collection, version), in turn when there are several, or null.</summary>
    public LocalEmbedder? Find(string collection, string version) =>
        _workers.TryGetValue((collection, version), out var list) && list.Items.Length > 0
            ? list.Items[(Interlocked.Increment(ref _next) & int.MaxValue) % list.Items.Length]
            : null;

    private sealed record ImmutableEmbedders(LocalEmbedder[] Items);
}

/// <summary>
/// What a worker lends to <see cref="LocalWorkers"/>: how its version embeds (the document model's batcher, the query
/// model's when the version has one, and the Matryoshka length vectors are truncated to), and the count of texts it
/// embedded. Every vector of the version, document or query, goes through here, so both always agree in length and space.
/// </summary>
/// <param name="batcher">The document model's batcher (its query lane embeds queries when there is no query model).</param>
/// <param name="queryBatcher">The query model's batcher, or null.</param>
/// <param name="dimensions">The version's stored length; longer vectors are truncated to it and renormalised.</param>
public sealed class LocalEmbedder(DynamicBatcher batcher, DynamicBatcher? queryBatcher = null, int? dimensions = null)
{
    private long _texts;

    /// <summary>Queries waiting in the worker's query lane.</summary>
    public int QueuedQueries => (queryBatcher ?? batcher).GetQueuedCount(EmbeddingLane.Query);

    /// <summary>Texts embedded through this worker (by the grain or directly).</summary>
    public long TextsEmbedded => Interlocked.Read(ref _texts);

    /// <summary>Counts texts the worker embedded for its own calls.</summary>
    public void Count(int texts) => Interlocked.Add(ref _texts, texts);

    /// <summary>Embeds texts: queries on the query lane, documents on the live lane.</summary>
    public async Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, TextKind kind)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var embeddings = await Task.WhenAll(texts.Select(t => kind == TextKind.Query
            ? EmbedQueryCoreAsync(t ?? throw new ArgumentException("A text to embed is null.", nameof(texts)))
            : EmbedDocumentAsync(t ?? throw new ArgumentException("A text to embed is null.", nameof(texts)), EmbeddingLane.Live))).ConfigureAwait(false);
        Count(texts.Count);
        return embeddings;
    }

    /// <summary>Embeds one query on the query lane (of the query model, when the version has one).</summary>
    public async Task<float[]> EmbedQueryAsync(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var vector = await EmbedQueryCoreAsync(text).ConfigureAwait(false);
        Count(1);
        return vector;
    }

    /// <summary>Embeds one document on <paramref name="lane"/> (live or bulk) with the document model; not counted.</summary>
    public async Task<float[]> EmbedDocumentAsync(string text, EmbeddingLane lane) =>
        Fit((await batcher.EmbedAsync(text, lane).ConfigureAwait(false)).Vector);

    private async Task<float[]> EmbedQueryCoreAsync(string text) =>
        Fit((await (queryBatcher ?? batcher).EmbedAsync(text, EmbeddingLane.Query).ConfigureAwait(false)).Vector);

    private float[] Fit(float[] vector) =>
        dimensions is { } length && length < vector.Length ? VectorPooling.Truncate(vector, length) : vector;
}
