namespace Orleans.Embeddings.Search;

/// <summary>What texts are embedded as: it decides the model's prefix and the worker lane.</summary>
public enum TextKind
{
    /// <summary>Search queries: the manifest's query prefix, the query lane.</summary>
    Query,

    /// <summary>Documents: the manifest's document prefix, the live lane.</summary>
    Document,
}
