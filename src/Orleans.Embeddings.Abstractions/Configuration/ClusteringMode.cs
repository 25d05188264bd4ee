namespace Orleans.Configuration;

/// <summary>How silos find each other and clients find silos.</summary>
public enum ClusteringMode
{
    /// <summary>One silo on this machine (or several with a fixed primary); nothing stored. The default.</summary>
    Localhost,

    /// <summary>Membership kept in the project's PostgreSQL (Orleans ADO.NET clustering); any number of silos and machines.</summary>
    AdoNet,
}
