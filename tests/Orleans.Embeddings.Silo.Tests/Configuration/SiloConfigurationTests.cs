using Microsoft.Extensions.Options;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Silo.Tests.Configuration;

public sealed class SiloConfigurationTests
{
    private const string ValidConnection = "--Embeddings:Database:ConnectionString=Host=127.0.0.1;Port=1;Database=x;Username=x;Password=x";

    [Fact]
    public void Build_NoConnectionString_FailsNamingTheSetting()
    {
        var error = Assert.Throws<OptionsValidationException>(() => SiloApplication.Build(["--Embeddings:Database:ConnectionString="]));

        Assert.Contains("Embeddings:Database:ConnectionString is required", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_PortThatIsNotANumber_FailsNamingTheSetting()
    {
        var error = Assert.Throws<OptionsValidationException>(() => SiloApplication.Build([ValidConnection, "--Embeddings:Cluster:SiloPort=eleven"]));

        Assert.Contains("Embeddings:Cluster:SiloPort", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_UnknownClusteringMode_FailsNamingTheSetting()
    {
        var error = Assert.Throws<OptionsValidationException>(() => SiloApplication.Build([ValidConnection, "--Embeddings:Cluster:Clustering=Zookeeper"]));

        Assert.Contains("Embeddings:Cluster:Clustering", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_SamePortForSiloAndGateway_FailsNamingBothSettings()
    {
        var error = Assert.Throws<OptionsValidationException>(() =>
            SiloApplication.Build([ValidConnection, "--Embeddings:Cluster:SiloPort=40000", "--Embeddings:Cluster:GatewayPort=40000"]));

        Assert.Contains("Embeddings:Cluster:SiloPort and Embeddings:Cluster:GatewayPort must differ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_DashboardPrefixWithoutSlash_FailsNamingTheSetting()
    {
        var error = Assert.Throws<OptionsValidationException>(() => SiloApplication.Build([ValidConnection, "--Embeddings:Dashboard:RoutePrefix=dash"]));

        Assert.Contains("Embeddings:Dashboard:RoutePrefix must start with '/'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Main_InvalidConfiguration_ExitsWithCode2AndPrintsTheSetting()
    {
        await using var silo = SiloProcess.Start("misconfigured", new Dictionary<string, string>
        {
            ["Embeddings:Database:ConnectionString"] = "",
        });

        var exitCode = await silo.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(2, exitCode);
        Assert.Contains("Embeddings:Database:ConnectionString is required", silo.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", silo.Output, StringComparison.Ordinal);
    }
}
