namespace Orleans.Embeddings.Storage.Documents;

/// <summary>What a guarded document write did.</summary>
/// <param name="Applied">False when the store already held this seq or a higher one (a duplicate or stale change).</param>
/// <param name="ContentChanged">
/// True when the applied change altered what must be embedded: new text, a delete, or an undelete.
/// False for a metadata-only change, which needs no re-embedding.
/// </param>
public readonly record struct DocumentWriteResult(bool Applied, bool ContentChanged);
