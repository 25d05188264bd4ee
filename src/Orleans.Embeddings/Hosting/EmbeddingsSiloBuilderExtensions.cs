using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Embeddings.Hosting;
using Orleans.Embeddings.Storage;
using Orleans.Embeddings.Storage.Migrations;
using Npgsql;

namespace Orleans.Hosting;

/// <summary>Silo builder extensions that wire the indexer's storage and clustering.</summary>
public static class EmbeddingsSiloBuilderExtensions
{
    /// <summary>The ADO.NET invariant Orleans uses to load Npgsql.</summary>
    public const string NpgsqlInvariant = "Npgsql";

    /// <summary>
    /// Registers the shared <see cref="NpgsqlDataSource"/>, the schema migrator, and (unless disabled)
    /// the start-up step that applies pending migrations before the silo joins the cluster.
    /// </summary>
    public static ISiloBuilder AddEmbeddingsStorage(this ISiloBuilder builder, Action<DatabaseOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return builder.AddEmbeddingsStorage(options => options.Configure(configure));
    }

    /// <summary>The <see cref="OptionsBuilder{TOptions}"/> form of <see cref="AddEmbeddingsStorage(ISiloBuilder, Action{DatabaseOptions})"/>.</summary>
    public static ISiloBuilder AddEmbeddingsStorage(this ISiloBuilder builder, Action<OptionsBuilder<DatabaseOptions>> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configureOptions);
        var services = builder.Services;
        configureOptions(services.AddOptions<DatabaseOptions>().ValidateOnStart());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DatabaseOptions>, DatabaseOptionsValidator>());
        services.TryAddSingleton(sp => EmbeddingsDataSource.Create(sp.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString));
        services.TryAddSingleton(sp => new SchemaMigrator(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<ILogger<SchemaMigrator>>()));
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, SchemaMigrationStartup>();
        return builder;
    }

    /// <summary>
    /// Configures cluster identity, endpoints and membership: localhost clustering, or Orleans' ADO.NET
    /// clustering on the project's PostgreSQL (whose schema the migrations install).
    /// </summary>
    /// <param name="builder">The silo builder.</param>
    /// <param name="cluster">Validated cluster options.</param>
    /// <param name="connectionString">The database connection string; required for <see cref="ClusteringMode.AdoNet"/>.</param>
    public static ISiloBuilder UseEmbeddingsClustering(this ISiloBuilder builder, EmbeddingsClusterOptions cluster, string? connectionString)
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
                var primary = cluster.PrimarySiloPort is { } port ? new IPEndPoint(IPAddress.Loopback, port) : null;
                builder.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort, primary, cluster.ServiceId, cluster.ClusterId);
                break;

            case ClusteringMode.AdoNet:
                if (string.IsNullOrWhiteSpace(connectionString))
                {
                    throw new OptionsValidationException(
                        DatabaseOptions.SectionName,
                        typeof(DatabaseOptions),
                        [$"{EmbeddingsClusterOptions.SectionName}:Clustering is AdoNet, which keeps membership in PostgreSQL: {DatabaseOptions.SectionName}:ConnectionString is required."]);
                }

                builder.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = cluster.ClusterId;
                    o.ServiceId = cluster.ServiceId;
                });
                if (string.IsNullOrWhiteSpace(cluster.AdvertisedAddress))
                {
                    builder.ConfigureEndpoints(cluster.SiloPort, cluster.GatewayPort);
                }
                else
                {
                    builder.ConfigureEndpoints(IPAddress.Parse(cluster.AdvertisedAddress), cluster.SiloPort, cluster.GatewayPort);
                }

                builder.UseAdoNetClustering(o =>
                {
                    o.Invariant = NpgsqlInvariant;
                    o.ConnectionString = connectionString;
                });
                break;
        }

        return builder;
    }
}
