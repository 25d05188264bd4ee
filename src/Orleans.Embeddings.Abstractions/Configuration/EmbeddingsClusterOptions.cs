namespace Orleans.Configuration;

/// <summary>
/// Cluster identity and endpoints, shared by silos and clients (section <c>Embeddings:Cluster</c>).
/// </summary>
public sealed class EmbeddingsClusterOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Embeddings:Cluster";

    /// <summary>Default <see cref="ClusterId"/>.</summary>
    public const string DefaultClusterId = "orleans-embeddings";

    /// <summary>Default <see cref="ServiceId"/>.</summary>
    public const string DefaultServiceId = "orleans-embeddings";

    /// <summary>Default <see cref="SiloPort"/>.</summary>
    public const int DefaultSiloPort = 11111;

    /// <summary>Default <see cref="GatewayPort"/>.</summary>
    public const int DefaultGatewayPort = 30000;

    /// <summary>
    /// <see cref="ClusteringMode.Localhost"/> (default: a single machine, nothing stored) or
    /// <see cref="ClusteringMode.AdoNet"/> (membership in PostgreSQL, for several silos).
    /// </summary>
    public ClusteringMode Clustering { get; set; } = ClusteringMode.Localhost;

    /// <summary>Identifies one deployment; silos and clients with the same ClusterId form one cluster.</summary>
    public string ClusterId { get; set; } = DefaultClusterId;

    /// <summary>Identifies the application across deployments; keys durable state, so keep it stable.</summary>
    public string ServiceId { get; set; } = DefaultServiceId;

    /// <summary>The port silos talk to each other on.</summary>
    public int SiloPort { get; set; } = DefaultSiloPort;

    /// <summary>The port clients connect to.</summary>
    public int GatewayPort { get; set; } = DefaultGatewayPort;

    /// <summary>
    /// The IP address this silo advertises to others. Empty: loopback in Localhost mode, and the
    /// machine's own address (as Orleans resolves it) in AdoNet mode. Set it on multi-homed machines.
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>
    /// Localhost mode with several silos on one machine: the silo port of the primary silo that the
    /// others join. Empty means this silo is the primary.
    /// </summary>
    public int? PrimarySiloPort { get; set; }
}
