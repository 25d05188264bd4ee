namespace Orleans.Embeddings.Indexing;

/// <summary>
/// Embeds texts with one model version on one device and writes them into the version's table. Keyed by
/// <see cref="WorkerKey"/> and placed on the silo that owns the device. Every call completes only after the rows
/// are committed; the seq guard makes every write idempotent.
/// </summary>
public interface IEmbeddingWorkerGrain : IGrainWithStringKey
{
    /// <summary>Embeds and writes live changes (the live lane).</summary>
    Task IndexAsync(IReadOnlyList<IndexItem> items);

    /// <summary>Embeds and writes a bulk load or reconciliation page (the bulk lane, never starved).</summary>
    Task IndexBulkAsync(IReadOnlyList<IndexItem> items);

    /// <summary>Embeds a search query (the query lane, ahead of the others).</summary>
    Task<float[]> EmbedQueryAsync(string text);

    /// <summary>Embeds texts without writing them: queries on the query lane, documents on the live lane.</summary>
    Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, Search.TextKind kind);

    /// <summary>What the worker has done.</summary>
    Task<WorkerStatistics> GetStatisticsAsync();
}
