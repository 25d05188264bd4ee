using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.Embeddings.Storage.Migrations;

namespace Orleans.Embeddings.Silo.Health;

/// <summary>Ready when PostgreSQL answers and every migration of this build is applied.</summary>
internal sealed class DatabaseReadinessCheck(SchemaMigrator migrator) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        SchemaStatus status;
        try
        {
            status = await migrator.GetStatusAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return HealthCheckResult.Unhealthy($"database unreachable: {ex.Message}");
        }

        var data = new Dictionary<string, object>
        {
            ["schemaVersion"] = status.DatabaseVersion,
            ["expectedSchemaVersion"] = status.LatestVersion,
        };
        return status.IsUpToDate
            ? HealthCheckResult.Healthy($"schema at version {status.DatabaseVersion}", data)
            : HealthCheckResult.Unhealthy($"{status.MissingCount} migration(s) not applied (database at {status.DatabaseVersion}, build expects {status.LatestVersion})", data: data);
    }
}
