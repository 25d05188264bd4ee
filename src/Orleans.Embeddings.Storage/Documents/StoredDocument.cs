namespace Orleans.Embeddings.Storage.Documents;

/// <summary>A document as the store holds it: the newest change that reached it.</summary>
/// <param name="Id">The document id within its collection.</param>
/// <param name="Seq">The sequence number of the change that wrote this row.</param>
/// <param name="Deleted">True for a tombstone: the document was deleted at <paramref name="Seq"/>.</param>
/// <param name="Content">The text that is embedded; null for a tombstone.</param>
/// <param name="MetadataJson">The metadata, a JSON object.</param>
/// <param name="ContentHash">SHA-256 of the content's UTF-8 bytes; null for a tombstone.</param>
/// <param name="Shard">The shard (0-255) of the id, as the database computes it.</param>
/// <param name="UpdatedAt">When the row was last written.</param>
public sealed record StoredDocument(
    string Id, long Seq, bool Deleted, string? Content, string MetadataJson, byte[]? ContentHash, int Shard, DateTimeOffset UpdatedAt);
