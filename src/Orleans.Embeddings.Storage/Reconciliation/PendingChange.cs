namespace Orleans.Embeddings.Storage.Reconciliation;

/// <summary>What a version table lacks for one document: its content at <paramref name="Seq"/>, or (content null) a tombstone.</summary>
public sealed record PendingChange(string Id, long Seq, string? Content, string MetadataJson)
{
    /// <summary>True when the document was deleted and the version still holds an older live row.</summary>
    public bool IsTombstone => Content is null;
}
