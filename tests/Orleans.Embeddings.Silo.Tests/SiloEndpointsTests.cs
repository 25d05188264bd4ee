using System.Net;
using Microsoft.AspNetCore.Builder;
using System.Text.Json;
using Orleans.Embeddings.Storage.Migrations;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Silo.Tests;

/// <summary>A real silo (localhost clustering) in this process, on a database of its own.</summary>
public sealed class SiloEndpointsTests(PostgresServer server) : IAsyncLifetime
{
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly List<WebApplication> _apps = [];
    private readonly List<string> _databases = [];

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Ready_MigratedDatabaseAndActiveSilo_Answers200WithSchemaVersion()
    {
        var address = await StartSiloAsync(applyMigrations: true);

        using var response = await s_http.GetAsync(new Uri(address, "/ready"), Cancellation);
        var body = await response.Content.ReadAsStringAsync(Cancellation);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(body);
        Assert.Equal("Healthy", json.RootElement.GetProperty("status").GetString());
        var database = json.RootElement.GetProperty("checks").GetProperty("database");
        Assert.Equal(EmbeddedMigrations.LatestVersion, database.GetProperty("data").GetProperty("schemaVersion").GetInt32());
        Assert.Equal("Healthy", json.RootElement.GetProperty("checks").GetProperty("silo").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Ready_MigrationsNotApplied_Answers503NamingTheReason()
    {
        var address = await StartSiloAsync(applyMigrations: false);

        using var response = await s_http.GetAsync(new Uri(address, "/ready"), Cancellation);
        var body = await response.Content.ReadAsStringAsync(Cancellation);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("migration(s) not applied", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HealthMetricsAndDashboard_RunningSilo_AreServed()
    {
        var address = await StartSiloAsync(applyMigrations: true);

        using var health = await s_http.GetAsync(new Uri(address, "/health"), Cancellation);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);

        // Orleans publishes its instruments on the "Microsoft.Orleans" meter; the Prometheus
        // exporter renders them once something has been measured, so poll briefly.
        var metrics = string.Empty;
        for (var i = 0; i < 40 && !metrics.Contains("orleans_", StringComparison.Ordinal); i++)
        {
            metrics = await s_http.GetStringAsync(new Uri(address, "/metrics"), Cancellation);
            await Task.Delay(250, Cancellation);
        }

        Assert.Contains("orleans_", metrics, StringComparison.Ordinal);

        using var dashboard = await s_http.GetAsync(new Uri(address, "/dashboard/"), Cancellation);
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
    }

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
        }

        foreach (var database in _databases)
        {
            await server.DropDatabaseAsync(database);
        }
    }

    private async Task<Uri> StartSiloAsync(bool applyMigrations)
    {
        var connectionString = await server.CreateDatabaseAsync("silo", Cancellation);
        _databases.Add(connectionString);
        var ports = LoopbackPorts.GetFree(3);
        var address = new Uri($"http://127.0.0.1:{ports[0]}");
        var app = SiloApplication.Build(
        [
            $"--Urls={address}",
            $"--Embeddings:Database:ConnectionString={connectionString}",
            $"--Embeddings:Database:ApplyMigrationsOnStartup={applyMigrations}",
            $"--Embeddings:Cluster:SiloPort={ports[1]}",
            $"--Embeddings:Cluster:GatewayPort={ports[2]}",
            $"--Embeddings:Cluster:ClusterId=endpoints-{ports[1]}",
            "--Logging:LogLevel:Default=Warning",
        ]);
        _apps.Add(app);
        await app.StartAsync(Cancellation);
        return address;
    }
}
