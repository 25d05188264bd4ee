namespace Orleans.Embeddings.Storage.Versions;

/// <summary>How a version ranks neighbours. Search scores are "higher is closer" for all three.</summary>
public enum DistanceMetric
{
    /// <summary>Cosine distance (<c>&lt;=&gt;</c>); score = cosine similarity.</summary>
    Cosine,

    /// <summary>Inner product (<c>&lt;#&gt;</c>, negated by pgvector); score = inner product.</summary>
    InnerProduct,

    /// <summary>Euclidean distance (<c>&lt;-&gt;</c>); score = −distance.</summary>
    L2,
}
