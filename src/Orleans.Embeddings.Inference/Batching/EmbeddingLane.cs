namespace Orleans.Embeddings.Inference.Batching;

/// <summary>The three lanes of the dynamic batcher, in priority order.</summary>
public enum EmbeddingLane
{
    /// <summary>Search queries: someone is waiting; served first.</summary>
    Query,

    /// <summary>Live document changes from the stream.</summary>
    Live,

    /// <summary>Bulk loads and reconciliation; served last, but never starved to zero.</summary>
    Bulk,
}
