namespace Orleans.Embeddings.Rollouts;

/// <summary>How a model version stores and indexes its vectors, chosen when the version is registered.</summary>
public enum VectorRepresentation
{
    /// <summary>4-byte floats (pgvector <c>vector</c>), indexed as they are. Written <c>vector</c> or <c>fp32</c>.</summary>
    Float32,

    /// <summary>2-byte floats (pgvector <c>halfvec</c>): half the bytes, indexed as they are. Written <c>halfvec</c> or <c>fp16</c>.</summary>
    Float16,

    /// <summary>
    /// Stored as <c>halfvec</c>, indexed by its binary quantization (one bit per dimension, Hamming distance); a search
    /// reranks <c>k × oversample</c> candidates exactly on the stored vector. Needs a normalised model. Written <c>binary</c>.
    /// </summary>
    Binary,
}
