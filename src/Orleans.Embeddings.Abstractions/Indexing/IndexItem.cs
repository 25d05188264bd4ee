namespace Orleans.Embeddings.Indexing;

/// <summary>One document to write into a version's table: text to embed, or a tombstone.</summary>
/// <param name="Id">The document id.</param>
/// <param name="Seq">The document's seq; the table keeps the highest.</param>
/// <param name="Content">The text to embed; null for a tombstone.</param>
/// <param name="MetadataJson">The metadata to store beside the vector.</param>
/// <param name="MetadataOnly">
/// Only the metadata changed: the worker moves the row to <paramref name="Seq"/> with the new metadata without calling
/// the model, and embeds <paramref name="Content"/> only if the table has no live row for the document.
/// </param>
/// <param name="Redelivery">
/// The change was delivered again (after a crash or timeout) and may already be written: the worker skips it where the
/// table holds this seq or a newer one, instead of embedding it again.
/// </param>
[GenerateSerializer, Immutable]
public sealed record IndexItem(
    [property: Id(0)] string Id,
    [property: Id(1)] long Seq,
    [property: Id(2)] string? Content,
    [property: Id(3)] string MetadataJson,
    [property: Id(4)] bool MetadataOnly = false,
    [property: Id(5)] bool Redelivery = false)
{
    /// <summary>True for a tombstone (a deleted document).</summary>
    public bool IsTombstone => Content is null;
}
