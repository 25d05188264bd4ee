namespace Orleans.Embeddings.Storage.Versions;

/// <summary>How a version table stores its vectors.</summary>
public enum VectorElementType
{
    /// <summary>pgvector <c>vector</c>: 4-byte floats; HNSW indexes up to 2,000 dimensions.</summary>
    Vector,

    /// <summary>pgvector <c>halfvec</c>: 2-byte floats, half the size; HNSW indexes up to 4,000 dimensions.</summary>
    HalfVec,
}
