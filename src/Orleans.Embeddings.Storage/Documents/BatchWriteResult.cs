namespace Orleans.Embeddings.Storage.Documents;

/// <summary>How many rows of a guarded batch write were applied and how many were ignored as stale or duplicate.</summary>
public readonly record struct BatchWriteResult(int Applied, int Ignored);
