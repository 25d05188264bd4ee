namespace Orleans.Embeddings.Storage.Versions;

/// <summary>What a version's ANN index is built on.</summary>
public enum VectorQuantization
{
    /// <summary>The HNSW index holds the stored vectors themselves.</summary>
    None,

    /// <summary>
    /// The HNSW index holds <c>binary_quantize(embedding − centre)</c>: one bit (or two, see
    /// <see cref="VersionLayout.BinaryBits"/>) per dimension, compared by Hamming distance. A search takes <c>k × oversample</c> candidates from it and reranks them exactly on the stored vector.
    /// Meant for normalised vectors, whose signs carry the direction.
    /// </summary>
    Binary,
}
