using System.Collections.Concurrent;
using Orleans.Embeddings.Inference.Batching;
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

/// <summary>What a worker lends to <see cref="LocalWorkers"/>: its batcher, and the count of texts it embedded.</summary>
public sealed class LocalEmbedder(DynamicBatcher batcher)
{
    private long _texts;

    /// <summary>Queries waiting in the worker's query lane.</summary>
    public int QueuedQueries => batcher.GetQueuedCount(EmbeddingLane.Query);

    /// <summary>Texts embedded through this worker (by the grain or directly).</summary>
    public long TextsEmbedded => Interlocked.Read(ref _texts);

    /// <summary>Counts texts the worker embedded for its own calls.</summary>
    public void Count(int texts) => Interlocked.Add(ref _texts, texts);

    /// <summary>Embeds texts: queries on the query lane, documents on the live lane.</summary>
    public async Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, TextKind kind)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var lane = kind == TextKind.Query ? EmbeddingLane.Query : EmbeddingLane.Live;
        var embeddings = await Task.WhenAll(texts.Select(t => batcher.EmbedAsync(t ?? throw new ArgumentException("A text to embed is null.", nameof(texts)), lane))).ConfigureAwait(false);
        Count(texts.Count);
        return [.. embeddings.Select(e => e.Vector)];
    }

    /// <summary>Embeds one query on the query lane.</summary>
    public async Task<float[]> EmbedQueryAsync(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var embedding = await batcher.EmbedAsync(text, EmbeddingLane.Query).ConfigureAwait(false);
        Count(1);
        return embedding.Vector;
    }
}
