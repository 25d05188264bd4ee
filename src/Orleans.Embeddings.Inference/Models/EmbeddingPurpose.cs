namespace Orleans.Embeddings.Inference.Models;

/// <summary>What a text is embedded for; it decides which manifest prefix goes in front.</summary>
public enum EmbeddingPurpose
{
    /// <summary>A document to be indexed.</summary>
    Document,

    /// <summary>A search query.</summary>
    Query,
}
