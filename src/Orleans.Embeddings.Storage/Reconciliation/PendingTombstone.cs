namespace Orleans.Embeddings.Storage.Reconciliation;

/// <summary>A document deleted at <paramref name="Seq"/> whose row in a version table is still live and older.</summary>
public sealed record PendingTombstone(string Id, long Seq);
