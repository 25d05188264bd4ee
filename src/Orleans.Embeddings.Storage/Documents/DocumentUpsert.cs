namespace Orleans.Embeddings.Storage.Documents;

/// <summary>One document change for <see cref="DocumentStore.UpsertManyAsync"/>.</summary>
/// <param name="Id">The document id.</param>
/// <param name="Seq">Its sequence number; the row is replaced only by a higher one.</param>
/// <param name="Content">The new text, or null to write a tombstone (a delete).</param>
/// <param name="MetadataJson">The metadata, a JSON object (ignored for a delete).</param>
public readonly record struct DocumentUpsert(string Id, long Seq, string? Content, string MetadataJson = "{}")
{
    /// <summary>True when this change deletes the document.</summary>
    public bool IsDelete => Content is null;
}
