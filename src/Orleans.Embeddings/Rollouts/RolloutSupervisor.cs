using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Hosting;
using Orleans.Embeddings.Storage.Rollouts;

namespace Orleans.Embeddings.Rollouts;

/// <summary>
/// Wakes, on every silo, the coordinators whose collection has a rollout or repair in progress: a coordinator whose
/// silo died is activated again elsewhere by the next call and resumes from its durable state.
/// </summary>
public sealed partial class RolloutSupervisor(
    CoordinatorStateStore states, IGrainFactory grains, IOptions<IndexerOptions> options, ILogger<RolloutSupervisor> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;

    /// <inheritdoc />
    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe(
            nameof(RolloutSupervisor),
            ServiceLifecycleStage.Active,
            _ =>
            {
                _loop = RunAsync(_stopping.Token);
                return Task.CompletedTask;
            },
            async _ =>
            {
                await _stopping.CancelAsync().ConfigureAwait(false);
                await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            });
    }

    /// <inheritdoc />
    public void Dispose() => _stopping.Dispose();

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.Value.Rollouts.SupervisorInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    foreach (var collection in await states.ListActiveAsync(cancellationToken).ConfigureAwait(false))
                    {
                        await grains.GetGrain<IVersionCoordinatorGrain>(collection).ResumeAsync().ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
                {
                    LogFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 5200, Level = LogLevel.Warning, Message = "Waking the coordinators with a run in progress failed; trying again on the next tick")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
