namespace Orleans.Embeddings.Silo.Configuration;

/// <summary>The Orleans Dashboard on the silo's web port (section <c>Embeddings:Dashboard</c>).</summary>
public sealed class DashboardOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Embeddings:Dashboard";

    /// <summary>Default <see cref="RoutePrefix"/>.</summary>
    public const string DefaultRoutePrefix = "/dashboard";

    /// <summary>Whether the dashboard is served. On by default.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The path the dashboard is mounted under; must start with '/'.</summary>
    public string RoutePrefix { get; set; } = DefaultRoutePrefix;
}
