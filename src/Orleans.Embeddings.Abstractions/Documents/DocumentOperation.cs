namespace Orleans.Embeddings.Documents;

/// <summary>What a document change does.</summary>
[GenerateSerializer]
public enum DocumentOperation
{
    /// <summary>Creates or replaces the document's content and metadata.</summary>
    Upsert,

    /// <summary>Deletes the document (a tombstone remembers the seq).</summary>
    Delete,
}
