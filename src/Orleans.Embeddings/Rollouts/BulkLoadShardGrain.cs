using Microsoft.Extensions.Logging;
using Orleans.Embeddings.Indexing;
using Orleans.Embeddings.Storage.Reconciliation;
using Orleans.Embeddings.Storage.Rollouts;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Workers;

namespace Orleans.Embeddings.Rollouts;

/// <summary>
/// Runs one pass of a load over a range of document shards: keyset pages of what the version lacks, embedded on the
/// bulk lane of a worker (this silo's device first) and written with the seq guard, the cursor checkpointed after each
/// page. A new activation (the grain moved, or its silo died) continues from the stored cursor. The coordinator calls
/// <see cref="EnsureRunningAsync"/> on every tick, which keeps the grain active and restarts a failed loop.
/// </summary>
[LoadRangePlacement]
internal sealed partial class BulkLoadShardGrain(
    ReconciliationQueries queries, LoadCheckpointStore checkpoints, CollectionCatalog catalog, WorkerRouter workers, LoadPageGate pages, ILogger<BulkLoadShardGrain> logger)
    : Grain, IBulkLoadShardGrain
{
    private readonly CancellationTokenSource _deactivating = new();
    private LoadAssignment? _assignment;
    private CancellationTokenSource? _run;
    private Task _loop = Task.CompletedTask;

    public Task EnsureRunningAsync(LoadAssignment assignment)
    {
        ArgumentNullException.ThrowIfNull(assignment);
        if (_assignment is { } current && current.Pass >= assignment.Pass && current.RunId == assignment.RunId && !_loop.IsFaulted)
        {
            return Task.CompletedTask; // running it, or finished it (the checkpoint says done)
        }

        _run?.Cancel();
        _run = CancellationTokenSource.CreateLinkedTokenSource(_deactivating.Token);
        _assignment = assignment;
        var token = _run.Token;
        _loop = Task.Run(() => RunAsync(assignment, token), token);
        return Task.CompletedTask;
    }

    public Task StopAsync()
    {
        _run?.Cancel();
        _assignment = null;
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await _deactivating.CancelAsync();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        _deactivating.Dispose();
    }

    private async Task RunAsync(LoadAssignment a, CancellationToken cancellationToken)
    {
        try
        {
            var table = await catalog.GetVersionAsync(a.Collection, a.Version, cancellationToken)
                ?? throw new InvalidOperationException($"Version {a.Version} of {a.Collection} is not registered.");
            var checkpoint = await checkpoints.BeginPassAsync(a.Collection, a.Version, a.RunId, a.RangeIndex, a.Pass, a.FirstShard, cancellationToken);
            if (checkpoint.Pass != a.Pass || checkpoint.Done)
            {
                return;
            }

            if (checkpoint.Pages > 0)
            {
                await checkpoints.MarkResumedAsync(a.Collection, a.Version, a.RunId, a.RangeIndex, cancellationToken);
                LogResumed(logger, a.GrainKey, a.Pass, checkpoint.NextShard, checkpoint.AfterId);
            }

            var shard = checkpoint.NextShard;
            var after = checkpoint.AfterId;
            while (shard < a.EndShard)
            {
                cancellationToken.ThrowIfCancellationRequested();
                IReadOnlyList<PendingChange> page;
                using (await pages.EnterAsync(cancellationToken))
                {
                    page = await queries.ReadPendingPageAsync(table, shard, after, a.PageSize, a.UpdatedBefore, cancellationToken);
                }

                // The worker passes the page's write through the same gate, but not its embedding: the pages of every
                // range wait in the bulk lane together, so the batcher's sort window is full and the lane never runs dry
                // while a page is read or written.
                if (page.Count > 0)
                {
                    var items = page.Select(p => new IndexItem(p.Id, p.Seq, p.Content, p.MetadataJson)).ToArray();
                    await workers.CallAsync(a.Collection, a.Version, worker => worker.IndexBulkAsync(items));
                }

                var shardFinished = page.Count < a.PageSize;
                var nextShard = shardFinished ? shard + 1 : shard;
                var nextAfter = shardFinished ? null : page[^1].Id;
                if (!await checkpoints.AdvanceAsync(a.Collection, a.Version, a.RunId, a.RangeIndex, a.Pass, nextShard, nextAfter, nextShard >= a.EndShard, page.Count, cancellationToken))
                {
                    return; // the range was moved to a later pass without us
                }

                (shard, after) = (nextShard, nextAfter);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogFailed(logger, ex, a.GrainKey, a.Pass);
            throw; // faulted: the coordinator's next EnsureRunningAsync starts it again from the checkpoint
        }
    }

    [LoggerMessage(EventId = 5100, Level = LogLevel.Information, Message = "Load range {Range} resumes pass {Pass} at shard {Shard} after id {AfterId}")]
    private static partial void LogResumed(ILogger logger, string range, int pass, int shard, string? afterId);

    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "Load range {Range} failed in pass {Pass}; it restarts from its checkpoint")]
    private static partial void LogFailed(ILogger logger, Exception exception, string range, int pass);
}
