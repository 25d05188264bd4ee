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
[GenerateSerializer, Immutable]
public sealed record IndexItem(
    [property: Id(0)] string Id,
    [property: Id(1)] long Seq,
    [property: Id(2)] string? Content,
    [property: Id(3)] string MetadataJson,
    [property: Id(4)] bool MetadataOnly = false)
{
    /// <summary>True for a tombstone (a deleted document).</summary>
    public bool IsTombstone => Content is null;
}
