namespace Orleans.Embeddings.Storage.Reconciliation;

/// <summary>A live document whose vector in a version table is missing or older than the document.</summary>
public sealed record PendingDocument(string Id, long Seq, string Content, string MetadataJson);
