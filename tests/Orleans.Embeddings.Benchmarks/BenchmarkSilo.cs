using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Embeddings.Hosting;
using Orleans.Embeddings.Testing;
using Orleans.Hosting;

namespace Orleans.Embeddings.Benchmarks;

/// <summary>One silo with the PostgreSQL log and the indexer on a benchmark database (only the indexer's grains).</summary>
internal static class BenchmarkSilo
{
    public static IHost Build(string connectionString, string serviceId, Action<IndexerOptions>? configure = null) =>
        Build(connectionString, serviceId, out _, configure);

    /// <summary>Builds the silo; <paramref name="gatewayPort"/> is where an Orleans client connects.</summary>
    public static IHost Build(string connectionString, string serviceId, out int gatewayPort, Action<IndexerOptions>? configure = null)
    {
        var ports = LoopbackPorts.GetFree(2);
        gatewayPort = ports[1];
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Orleans.Runtime.Watchdog", LogLevel.None);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(ports[0], ports[1], serviceId: serviceId, clusterId: serviceId);
            silo.AddEmbeddingsStorage(o => o.ConnectionString = connectionString);
            silo.AddPostgresLogStreams("documents");
            silo.AddEmbeddingIndexer(configure);

            // Only the indexer's grains: the streams benchmark's consumer lives in this assembly too.
            silo.Configure<GrainTypeOptions>(o => o.Classes.RemoveWhere(t => t.Assembly == typeof(BenchmarkSilo).Assembly));
        });
        return builder.Build();
    }

    /// <summary>An Orleans client of the silo (over its gateway) with the search SDK registered.</summary>
    public static IHost BuildClient(int gatewayPort, string serviceId)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(client => client.UseLocalhostClustering(gatewayPort, serviceId, serviceId));
        builder.Services.AddEmbeddingSearchClient();
        return builder.Build();
    }
}
