using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace Orleans.Embeddings.Streaming.Tests.Delivery;

/// <summary>An in-process Orleans cluster whose silos share one PostgreSQL data source and host one stream provider.</summary>
public static class StreamTestCluster
{
    /// <summary>Builds and deploys a cluster of <paramref name="silos"/> silos; <paramref name="addStreams"/> registers the provider on each.</summary>
    public static async Task<InProcessTestCluster> StartAsync(NpgsqlDataSource dataSource, Action<ISiloBuilder> addStreams, short silos = 2)
    {
        var builder = new InProcessTestClusterBuilder(silos);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton(dataSource);
            addStreams(silo);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }
}
