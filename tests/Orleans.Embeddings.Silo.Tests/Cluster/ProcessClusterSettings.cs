namespace Orleans.Embeddings.Silo.Tests.Cluster;

/// <summary>The settings of silo processes that form one cluster through ADO.NET clustering and notice a killed member in seconds.</summary>
internal static class ProcessClusterSettings
{
    public static Dictionary<string, string> Create(string connectionString, string clusterId) => new()
    {
        ["Embeddings:Database:ConnectionString"] = connectionString,
        ["Embeddings:Cluster:Clustering"] = "AdoNet",
        ["Embeddings:Cluster:ClusterId"] = clusterId,
        ["Embeddings:Dashboard:Enabled"] = "false",
        // Detect a killed silo in seconds rather than the production defaults' minute.
        ["Orleans:Membership:ProbeTimeout"] = "00:00:01",
        ["Orleans:Membership:NumMissedProbesLimit"] = "2",
        ["Orleans:Membership:TableRefreshTimeout"] = "00:00:02",
        ["Logging:LogLevel:Default"] = "Warning",
    };
}
