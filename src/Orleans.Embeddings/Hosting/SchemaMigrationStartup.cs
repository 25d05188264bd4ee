using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Embeddings.Storage;
using Orleans.Embeddings.Storage.Migrations;
using Orleans.Runtime;

namespace Orleans.Embeddings.Hosting;

/// <summary>
/// Applies pending schema migrations at the very first silo lifecycle stage, so that the ADO.NET
/// membership tables and every table a grain touches exist before the silo joins the cluster.
/// </summary>
internal sealed partial class SchemaMigrationStartup(
    SchemaMigrator migrator,
    IOptions<DatabaseOptions> options,
    ILogger<SchemaMigrationStartup> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    // PostgreSQL is often started together with the silo (systemd, compose, the README's script):
    // give it a little while to accept connections before failing the start-up.
    private static readonly TimeSpan s_unreachableBudget = TimeSpan.FromSeconds(30);

    public void Participate(ISiloLifecycle lifecycle)
    {
        lifecycle.Subscribe(nameof(SchemaMigrationStartup), ServiceLifecycleStage.First, OnStartAsync);
    }

    private async Task OnStartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.ApplyMigrationsOnStartup)
        {
            LogSkipped(logger);
            return;
        }

        var deadline = DateTime.UtcNow + s_unreachableBudget;
        var delay = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            try
            {
                await migrator.MigrateAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (NpgsqlException ex) when (ex is not PostgresException && ex.IsTransient && DateTime.UtcNow < deadline)
            {
                LogUnreachable(logger, ex.Message, delay.TotalMilliseconds);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 4000));
            }
            catch (NpgsqlException ex) when (ex is not PostgresException)
            {
                var target = new NpgsqlConnectionStringBuilder(options.Value.ConnectionString);
                throw new InvalidOperationException(
                    $"Could not reach PostgreSQL at {target.Host}:{target.Port} (database '{target.Database}') to apply migrations: {ex.Message}. " +
                    $"Check {DatabaseOptions.SectionName}:ConnectionString, or start the local cluster with infra/postgres/setup.sh.",
                    ex);
            }
        }
    }

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning, Message = "PostgreSQL is not reachable yet ({Reason}); retrying in {DelayMs} ms")]
    private static partial void LogUnreachable(ILogger logger, string reason, double delayMs);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Information, Message = "Schema migrations at start-up are disabled (Embeddings:Database:ApplyMigrationsOnStartup=false)")]
    private static partial void LogSkipped(ILogger logger);
}
