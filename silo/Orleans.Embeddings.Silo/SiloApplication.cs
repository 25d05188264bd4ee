using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Embeddings.Diagnostics;
using Orleans.Embeddings.Hosting;
using Orleans.Embeddings.Silo.Api;
using Orleans.Embeddings.Silo.Console;
using Orleans.Embeddings.Silo.Demo;
using Orleans.Embeddings.Streaming.Hosting;
using Orleans.Embeddings.Silo.Configuration;
using Orleans.Embeddings.Silo.Health;
using Orleans.Embeddings.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Orleans.Embeddings.Silo;

/// <summary>Builds the silo's web application: Orleans, storage, health endpoints, metrics, dashboard, operator API and console.</summary>
public static class SiloApplication
{
    /// <summary>The path that answers 200 while the process is alive.</summary>
    public const string HealthPath = "/health";

    /// <summary>The path that answers 200 once the database is reachable, migrated, and the silo is active.</summary>
    public const string ReadyPath = "/ready";

    private const string ReadyTag = "ready";

    /// <summary>
    /// Builds the application from appsettings.json, environment variables (<c>Embeddings__Database__ConnectionString</c>)
    /// and command-line arguments (<c>--Embeddings:Cluster:SiloPort=11112</c>).
    /// </summary>
    /// <exception cref="OptionsValidationException">A setting is invalid; the message names it.</exception>
    public static WebApplication Build(string[] args)
    {
        // appsettings.json sits next to the assembly: read it from there whatever the working directory.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        var configuration = builder.Configuration;

        var database = ValidatedConfiguration.Get(configuration, DatabaseOptions.SectionName, new DatabaseOptionsValidator());
        var cluster = ValidatedConfiguration.Get(configuration, EmbeddingsClusterOptions.SectionName, new EmbeddingsClusterOptionsValidator());
        var dashboard = ValidatedConfiguration.Get(configuration, Configuration.DashboardOptions.SectionName, new DashboardOptionsValidator());
        var telemetry = ValidatedConfiguration.Get(configuration, TelemetryOptions.SectionName, new TelemetryOptionsValidator());
        var api = ValidatedConfiguration.Get(configuration, ApiOptions.SectionName, new ApiOptionsValidator());

        builder.UseOrleans(silo =>
        {
            silo.UseEmbeddingsClustering(cluster, database.ConnectionString);
            silo.AddEmbeddingsStorage(options => options.Bind(configuration.GetSection(DatabaseOptions.SectionName)));
            silo.AddDocumentChangeStreams(configuration);
            silo.AddEmbeddingIndexer(configuration.GetSection(IndexerOptions.SectionName));
            silo.Configure<ClusterMembershipOptions>(configuration.GetSection("Orleans:Membership"));
            if (dashboard.Enabled)
            {
                silo.AddDashboard();
            }
        });

        builder.Services.Configure<DocumentStreamsOptions>(configuration.GetSection(DocumentStreamsOptions.SectionName));
        builder.Services.Configure<DemoOptions>(configuration.GetSection(DemoOptions.SectionName));
        builder.Services.AddSingleton<DemoModelRollout>();
        builder.Services.AddHostedService<DemoCollectionLoader>();

        var metrics = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("orleans-embeddings-silo", serviceInstanceId: $"{Environment.MachineName}:{cluster.SiloPort}"));
        metrics.WithMetrics(meters =>
        {
            meters.AddMeter(EmbeddingsTelemetry.MeterName, EmbeddingsTelemetry.OrleansMeterName, "System.Runtime");
            if (!string.IsNullOrEmpty(telemetry.PrometheusPath))
            {
                meters.AddPrometheusExporter();
            }

            if (telemetry.OtlpEndpoint is { } endpoint)
            {
                meters.AddOtlpExporter(otlp => otlp.Endpoint = endpoint);
            }
        });

        builder.Services.AddHealthChecks()
            .AddCheck<DatabaseReadinessCheck>("database", tags: [ReadyTag])
            .AddCheck<SiloReadinessCheck>("silo", tags: [ReadyTag]);

        builder.Services.AddErrorResponses();
        var app = builder.Build();
        app.UseErrorResponses();
        app.UseOperatorConsole();
        app.MapHealthChecks(HealthPath, new HealthCheckOptions { Predicate = _ => false, ResponseWriter = HealthReportWriter.WriteAsync });
        app.MapHealthChecks(ReadyPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = HealthReportWriter.WriteAsync,
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status503ServiceUnavailable,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        });

        if (!string.IsNullOrEmpty(telemetry.PrometheusPath))
        {
            app.MapPrometheusScrapingEndpoint(telemetry.PrometheusPath);
        }

        var tokens = new BearerTokens(api.EffectiveOperatorToken, api.EffectiveSearchToken);
        app.MapRolloutEndpoints(tokens);
        app.MapSearchEndpoints(tokens);

        if (dashboard.Enabled)
        {
            app.MapOrleansDashboard(routePrefix: dashboard.RoutePrefix);
        }

        return app;
    }
}
