namespace Orleans.Embeddings.Storage.Migrations;

/// <summary>Where a database stands against this build's migrations.</summary>
/// <param name="DatabaseVersion">The highest version recorded in the schema history (0 when none).</param>
/// <param name="LatestVersion">The highest version this build knows.</param>
/// <param name="MissingCount">How many of this build's migrations the database has not recorded.</param>
public sealed record SchemaStatus(int DatabaseVersion, int LatestVersion, int MissingCount)
{
    /// <summary>True when every migration of this build has been applied.</summary>
    public bool IsUpToDate => MissingCount == 0;
}
