using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.Runtime;

namespace Orleans.Embeddings.Silo.Health;

/// <summary>Ready when this silo is an active member of the cluster.</summary>
internal sealed class SiloReadinessCheck(IClusterMembershipService membership, ILocalSiloDetails localSilo) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var self = membership.CurrentSnapshot.GetSiloStatus(localSilo.SiloAddress);
        var data = new Dictionary<string, object> { ["silo"] = localSilo.SiloAddress.ToString(), ["status"] = self.ToString() };
        return Task.FromResult(self == SiloStatus.Active
            ? HealthCheckResult.Healthy("silo active", data)
            : HealthCheckResult.Unhealthy($"silo is {self}", data: data));
    }
}
