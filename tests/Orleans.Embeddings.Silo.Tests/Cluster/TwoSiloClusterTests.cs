using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Embeddings.Testing;
using Orleans.Hosting;
using Orleans.Runtime;

namespace Orleans.Embeddings.Silo.Tests.Cluster;

/// <summary>
/// Two silo processes on one machine form one cluster through ADO.NET clustering on PostgreSQL; clients
/// connect through either gateway; a silo killed with SIGKILL is declared dead while the other serves on.
/// </summary>
public sealed class TwoSiloClusterTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private const int ActiveStatus = (int)SiloStatus.Active;
    private const int DeadStatus = (int)SiloStatus.Dead;
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(90);

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AdoNetCluster_SiloKilledWithSigkill_IsDeclaredDeadAndTheOtherKeepsServing()
    {
        var clusterId = $"two-silo-{Guid.NewGuid():N}"[..20];
        var settings = ProcessCluster.Settings(database.ConnectionString, clusterId);

        await using var siloA = SiloProcess.Start("A", settings);
        await siloA.WaitUntilReadyAsync(s_startTimeout, Cancellation);
        await using var siloB = SiloProcess.Start("B", settings);
        await siloB.WaitUntilReadyAsync(s_startTimeout, Cancellation);

        int[] bothPorts = [.. new[] { siloA.SiloPort, siloB.SiloPort }.Order()];
        Assert.Equal(bothPorts.Select(p => (p, ActiveStatus)), await ReadMembershipAsync(clusterId));

        using var throughA = await ConnectAsync(c => c.UseStaticClustering(siloA.GatewayEndpoint), clusterId);
        using var throughB = await ConnectAsync(c => c.UseStaticClustering(siloB.GatewayEndpoint), clusterId);
        using var throughMembership = await ConnectAsync(
            c => c.UseEmbeddingsClustering(new EmbeddingsClusterOptions { Clustering = ClusteringMode.AdoNet, ClusterId = clusterId }, database.ConnectionString),
            clusterId: null);
        foreach (var client in new[] { throughA, throughB, throughMembership })
        {
            Assert.Equal(bothPorts, await ActiveSiloPortsAsync(client));
        }

        await siloB.KillAsync();

        await ProcessCluster.WaitUntilAsync(
            async () => (await ReadMembershipAsync(clusterId)).Contains((siloB.SiloPort, DeadStatus)),
            TimeSpan.FromSeconds(60),
            () => $"silo B was not declared dead; membership: {string.Join(", ", ReadMembershipAsync(clusterId).Result)}\nA's output:\n{siloA.Output}");

        Assert.Contains((siloA.SiloPort, ActiveStatus), await ReadMembershipAsync(clusterId));
        Assert.Equal([siloA.SiloPort], await ActiveSiloPortsAsync(throughA));
        Assert.Equal([siloA.SiloPort], await ActiveSiloPortsAsync(throughMembership));
        var (status, body) = await siloA.GetAsync("/ready", Cancellation);
        Assert.True(status == HttpStatusCode.OK, body);
        Assert.False(siloA.HasExited);

        await StopAsync(throughB);
    }

    private async Task<List<(int Port, int Status)>> ReadMembershipAsync(string clusterId)
    {
        await using var command = database.DataSource.CreateCommand(
            "SELECT port, status FROM orleansmembershiptable WHERE deploymentid = @cluster ORDER BY port");
        command.Parameters.AddWithValue("cluster", clusterId);
        await using var reader = await command.ExecuteReaderAsync(Cancellation);
        var rows = new List<(int, int)>();
        while (await reader.ReadAsync(Cancellation))
        {
            rows.Add((reader.GetInt32(0), reader.GetInt32(1)));
        }

        return [.. rows.OrderBy(r => r.Item1)];
    }

    private static async Task<List<int>> ActiveSiloPortsAsync(ClientHost client)
    {
        var management = client.Client.GetGrain<IManagementGrain>(0);
        var hosts = await management.GetHosts(onlyActive: true);
        return [.. hosts.Keys.Select(s => s.Endpoint.Port).Order()];
    }

    private static async Task<ClientHost> ConnectAsync(Action<IClientBuilder> configure, string? clusterId)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(client =>
        {
            configure(client);
            if (clusterId is not null)
            {
                client.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = clusterId;
                    o.ServiceId = EmbeddingsClusterOptions.DefaultServiceId;
                });
            }
        });
        var host = builder.Build();
        await host.StartAsync(Cancellation);
        return new ClientHost(host);
    }

    private static async Task StopAsync(ClientHost client)
    {
        // The gateway of this client is gone: do not let a graceful close wait for it.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await client.Host.StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private sealed class ClientHost(IHost host) : IDisposable
    {
        public IHost Host { get; } = host;

        public IClusterClient Client => Host.Services.GetRequiredService<IClusterClient>();

        public void Dispose() => Host.Dispose();
    }
}
