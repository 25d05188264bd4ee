using Orleans.Configuration;
using Microsoft.Extensions.Options;

namespace Orleans.Hosting;

/// <summary>Client builder extensions that connect to an Orleans.Embeddings cluster.</summary>
public static class EmbeddingsClientBuilderExtensions
{
    /// <summary>
    /// Connects with the same cluster options the silos use: the localhost gateway, or the gateways
    /// listed in the ADO.NET membership table on the project's PostgreSQL.
    /// </summary>
    /// <param name="builder">The client builder.</param>
    /// <param name="cluster">Cluster identity and gateway port (localhost mode).</param>
    /// <param name="connectionString">The database connection string; required for <see cref="ClusteringMode.AdoNet"/>.</param>
    public static IClientBuilder UseEmbeddingsClustering(this IClientBuilder builder, EmbeddingsClusterOptions cluster, string? connectionString)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(cluster);
        var validation = new EmbeddingsClusterOptionsValidator().Validate(null, cluster);
        if (validation.Failed)
        {
            throw new OptionsValidationException(EmbeddingsClusterOptions.SectionName, typeof(EmbeddingsClusterOptions), validation.Failures);
        }

        switch (cluster.Clustering)
        {
            case ClusteringMode.Localhost:
                builder.UseLocalhostClustering(cluster.GatewayPort, cluster.ServiceId, cluster.ClusterId);
                break;

            case ClusteringMode.AdoNet:
                if (string.IsNullOrWhiteSpace(connectionString))
                {
                    throw new ArgumentException(
                        "AdoNet clustering reads the gateways from PostgreSQL: a connection string is required (Embeddings:Database:ConnectionString).",
                        nameof(connectionString));
                }

                builder.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = cluster.ClusterId;
                    o.ServiceId = cluster.ServiceId;
                });
                builder.UseAdoNetClustering(o =>
                {
                    o.Invariant = "Npgsql";
                    o.ConnectionString = connectionString;
                });
                break;
        }

        return builder;
    }
}
