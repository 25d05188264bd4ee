namespace Orleans.Embeddings.Storage.Vectors;

/// <summary>One row for a version table: a document's vector at a seq, or its tombstone.</summary>
/// <param name="Id">The document id.</param>
/// <param name="Seq">The document seq the vector was computed for.</param>
/// <param name="Vector">The embedding; empty for a tombstone.</param>
/// <param name="MetadataJson">A copy of the document metadata for filtered search (a JSON object).</param>
/// <param name="Deleted">True for a tombstone.</param>
public readonly record struct EmbeddingRow(string Id, long Seq, ReadOnlyMemory<float> Vector, string MetadataJson, bool Deleted)
{
    /// <summary>A vector for document <paramref name="id"/> at <paramref name="seq"/>.</summary>
    public static EmbeddingRow Upsert(string id, long seq, ReadOnlyMemory<float> vector, string metadataJson = "{}") =>
        new(id, seq, vector, metadataJson, Deleted: false);

    /// <summary>A tombstone: document <paramref name="id"/> was deleted at <paramref name="seq"/>.</summary>
    public static EmbeddingRow Tombstone(string id, long seq) => new(id, seq, ReadOnlyMemory<float>.Empty, "{}", Deleted: true);
}
