namespace Orleans.Embeddings.Storage;

/// <summary>How the indexer reaches its PostgreSQL database (documents, vectors, event log, cluster membership).</summary>
public sealed class DatabaseOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Embeddings:Database";

    /// <summary>Default for <see cref="ApplyMigrationsOnStartup"/>.</summary>
    public const bool DefaultApplyMigrationsOnStartup = true;

    /// <summary>
    /// Npgsql connection string, e.g. <c>Host=127.0.0.1;Port=55432;Database=embeddings;Username=embeddings;Password=…</c>.
    /// Required. <c>infra/postgres/setup.sh</c> prints the one for the local cluster.
    /// </summary>
    public string ConnectionString { get; set; } = string.Empty;

    /// <summary>Whether a silo applies pending schema migrations before it joins the cluster.</summary>
    public bool ApplyMigrationsOnStartup { get; set; } = DefaultApplyMigrationsOnStartup;
}
