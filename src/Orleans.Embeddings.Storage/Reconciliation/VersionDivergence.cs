namespace Orleans.Embeddings.Storage.Reconciliation;

/// <summary>How far a version table is from the documents table.</summary>
/// <param name="Missing">Live documents with no row in the version table.</param>
/// <param name="Stale">Live documents whose row has a lower seq.</param>
/// <param name="Undeleted">Deleted documents whose row is still live at a lower seq.</param>
public sealed record VersionDivergence(long Missing, long Stale, long Undeleted)
{
    /// <summary>True when the version reflects every document: a reconciliation pass would find nothing.</summary>
    public bool IsConverged => Missing == 0 && Stale == 0 && Undeleted == 0;

    /// <summary>Everything a reconciliation pass would write.</summary>
    public long Total => Missing + Stale + Undeleted;
}
