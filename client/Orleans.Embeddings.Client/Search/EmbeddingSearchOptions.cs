namespace Orleans.Embeddings.Client.Search;

/// <summary>Defaults of <see cref="EmbeddingSearchClient"/> (configuration section <c>Embeddings:Search</c>).</summary>
public sealed class EmbeddingSearchOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Embeddings:Search";

    /// <summary>Hits per call when the call does not say.</summary>
    public int DefaultK { get; set; } = Embeddings.Search.SearchRequest.DefaultK;

    /// <summary>HNSW candidate list size; null: the server's default.</summary>
    public int? EfSearch { get; set; }

    /// <summary>Whether hits carry the document's content.</summary>
    public bool IncludeContent { get; set; }
}
