using System.Collections.Immutable;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Embeddings.Collections;
using Orleans.Embeddings.Devices;
using Orleans.Embeddings.Hosting;
using Orleans.Embeddings.Indexing;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Tokenization;
using Orleans.Embeddings.Search;
using Orleans.Embeddings.Storage;
using Orleans.Embeddings.Storage.Naming;
using Orleans.Embeddings.Storage.Reconciliation;
using Orleans.Embeddings.Storage.Rollouts;
using Orleans.Embeddings.Storage.Search;
using Orleans.Embeddings.Storage.Routing;
using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Rollouts;

/// <summary>
/// Rolls model versions of one collection in and out (DESIGN, Rollout). Commands run one at a time (the grain is not
/// reentrant), so racing commands see each other's effects; each is idempotent or refuses with the state that forbids
/// it. Long work (shard loads, the index build, waiting for acknowledgements, the rollback window) advances on a timer
/// from durable state, so a coordinator that reactivates elsewhere resumes where it was.
/// </summary>
internal sealed partial class VersionCoordinatorGrain(
    CoordinatorStateStore stateStore,
    CollectionCatalog catalog,
    RoutingStore routing,
    ReconciliationQueries reconciliation,
    LoadCheckpointStore checkpoints,
    HnswIndexBuilder indexes,
    EfSearchTuner tuner,
    DeviceDirectory devices,
    NpgsqlDataSource dataSource,
    IOptions<IndexerOptions> indexerOptions,
    ILogger<VersionCoordinatorGrain> logger) : Grain, IVersionCoordinatorGrain, IIncomingGrainCallFilter
{
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = false };
    private readonly RolloutOptions _options = indexerOptions.Value.Rollouts;
    private string _collection = null!;
    private CoordinatorState _state = new();
    private long _revision;
    private IGrainTimer? _timer;
    // Since when this activation has run without a failure: silos get a whole AckTimeout from then to acknowledge an
    // epoch, so that a database outage (which stops both their acknowledgements and the coordinator) fails no rollout.
    private DateTimeOffset _unfailedSince = DateTimeOffset.UtcNow;
    private Task? _indexBuild;
    private string? _indexBuildVersion;
    private readonly Dictionary<string, VersionTable> _tables = new(StringComparer.Ordinal);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _collection = this.GetPrimaryKeyString();
        StorageNames.Validate(_collection, "collection");
        await DatabaseFailureCallFilter.ActivateAsync(ReadStateAsync(cancellationToken), $"Activating the version coordinator of {_collection}");
        UpdateTimer();
    }

    /// <summary>
    /// A command that failed part-way may leave the state in memory apart from the stored state: changed but not saved
    /// (the save's connection was terminated), or saved without the answer. It is read again before the caller hears of
    /// the failure, so that repeating the command starts from what is stored.
    /// </summary>
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            await context.Invoke();
        }
        catch (Exception ex) when (ex is not RolloutCommandException and not ArgumentException)
        {
            await ForgetUnsavedAsync();
            throw;
        }
    }

    public Task<ModelVersionStatus> RegisterModelAsync(string version, string modelPath) =>
        RegisterModelAsync(version, new ModelRegistration(modelPath));

    public async Task<ModelVersionStatus> RegisterModelAsync(string version, ModelRegistration registration)
    {
        StorageNames.Validate(version, "version");
        ArgumentNullException.ThrowIfNull(registration);
        ArgumentException.ThrowIfNullOrWhiteSpace(registration.ModelPath);
        var path = Path.GetFullPath(registration.ModelPath);
        var queryPath = string.IsNullOrWhiteSpace(registration.QueryModelPath) ? null : Path.GetFullPath(registration.QueryModelPath);
        var (model, queryModel) = (LoadFolder(path, version, "model"), queryPath is null ? null : LoadFolder(queryPath, version, "query model"));
        VersionLayout layout;
        try
        {
            layout = VersionLayoutPlanner.Plan(registration, model, queryModel);
        }
        catch (ArgumentException ex)
        {
            throw new RolloutCommandException($"Version {version} of {_collection} was not registered: {ex.Message}.");
        }

        if (_state.Versions.TryGetValue(version, out var known))
        {
            if (known.State == VersionState.Retired)
            {
                throw new RolloutCommandException($"Version {version} of {_collection} was retired; register the model under a new version name.");
            }

            var same = known.ModelPath == path && known.QueryModelPath == queryPath && LayoutOf(known) == layout;
            if (known.ModelPath is not null && !same)
            {
                throw new RolloutCommandException(
                    $"Version {version} of {_collection} is already registered as {Describe(known)} (state {known.State}); register {Describe(path, queryPath, layout)} under a new version name.");
            }

            if (same)
            {
                return ToStatus(known, await routing.GetAsync(_collection));
            }
        }

        try
        {
            await catalog.RegisterVersionAsync(_collection, version, layout);
        }
        catch (InvalidOperationException ex)
        {
            throw new RolloutCommandException(ex.Message);
        }

        await catalog.SetModelPathsAsync(_collection, version, model.Directory, queryModel?.Directory, model.TokenizerRevision.ToName());
        string? failure;
        try
        {
            failure = await ProbeOnEverySiloAsync(model, version, layout.Dimensions);
        }
        catch (DatabaseFailureException) when (known is null)
        {
            // Undone as far as the database lets it; repeating the registration (idempotent) finishes it either way.
            await catalog.DropVersionAsync(_collection, version);
            throw;
        }

        if (failure is not null)
        {
            if (known is null)
            {
                await catalog.DropVersionAsync(_collection, version);
            }

            throw new RolloutCommandException($"Version {version} of {_collection} was not registered: {failure}");
        }

        var record = known ?? new VersionRecord { Version = version };
        record.ModelPath = model.Directory;
        record.QueryModelPath = queryModel?.Directory;
        record.TokenizerRevision = model.TokenizerRevision.ToName();
        record.Dimensions = layout.Dimensions;
        record.Representation = registration.Representation;
        record.RerankOversample = layout.RerankOversample;
        record.BinaryBits = layout.BinaryBits;
        record.Error = null;
        SetState(record, VersionState.Registered);
        _state.Versions[version] = record;
        await SaveAsync();
        LogRegistered(logger, _collection, version, model.Directory, layout.Dimensions);
        return ToStatus(record, await routing.GetAsync(_collection));
    }

    private EmbeddingModelFolder LoadFolder(string path, string version, string what)
    {
        try
        {
            return EmbeddingModelFolder.Load(path);
        }
        catch (ModelFolderException ex)
        {
            // Not wrapped: the inner exception would have to cross the wire to the caller.
            throw new RolloutCommandException($"The {what} folder {path} cannot be registered as {version}: {ex.Message}");
        }
    }

    private static string Describe(VersionRecord record) => Describe(record.ModelPath!, record.QueryModelPath, LayoutOf(record));

    private static string Describe(string path, string? queryPath, VersionLayout layout) =>
        $"{path} ({layout.Description}{(queryPath is null ? string.Empty : $", query model {queryPath}")})";

    private static VersionLayout LayoutOf(VersionRecord record) =>
        VersionLayoutPlanner.Layout(record.Representation, record.Dimensions, record.RerankOversample, record.BinaryBits);

    public async Task<RolloutStatus> StartRolloutAsync(string version)
    {
        StorageNames.Validate(version, "version");
        if (_state.Rollout is { } current && (current.IsLoading || current.Step is RunRecord.Ready or RunRecord.Promoted))
        {
            if (current.Version == version)
            {
                return await GetStatusAsync();
            }

            throw new RolloutCommandException(
                $"A rollout of {current.Version} over {current.From} is in progress in {_collection} (step {current.Step}); finish, roll back or cancel it before starting {version}.");
        }

        var target = GetVersion(version);
        switch (target.State)
        {
            case VersionState.Primary:
                return await GetStatusAsync(); // already rolled out
            case VersionState.Registered or VersionState.Failed or VersionState.RolledBack:
                break;
            default:
                throw new RolloutCommandException($"Version {version} of {_collection} is {target.State}; only a Registered, Failed or RolledBack version can be rolled out.");
        }

        if (_state.Retiring.Any(r => r.Version == version))
        {
            throw new RolloutCommandException($"Version {version} of {_collection} is being retired; register the model under a new version name.");
        }

        if (_state.Repair is { NeedsTicks: true } repair && repair.Version == version)
        {
            throw new RolloutCommandException($"A repair of {version} is in progress in {_collection}; wait for it to finish.");
        }

        var primary = _state.Versions.Values.SingleOrDefault(v => v.State == VersionState.Primary)
            ?? throw new RolloutCommandException($"Collection {_collection} has no primary version to roll {version} out beside.");

        // Provision: the table exists from registration; make sure it is there (a rolled-back version keeps its rows).
        await catalog.RegisterVersionAsync(_collection, version, LayoutOf(target));
        var now = DateTimeOffset.UtcNow;
        _state.Rollout = new RunRecord
        {
            Kind = RunRecord.RolloutKind,
            RunId = NewRunId(),
            Version = version,
            From = primary.Version,
            Step = RunRecord.DualWrite,
            StartedAt = now,
            StepDeadline = now + _options.AckTimeout,
        };
        _state.Frozen = false;
        target.Error = null;
        SetState(target, VersionState.Provisioning);
        await SaveAsync();
        LogStarted(logger, _collection, version, primary.Version);
        await AdvanceAsync();
        return await GetStatusAsync();
    }

    public async Task<RolloutStatus> GetStatusAsync()
    {
        var record = await routing.GetAsync(_collection);
        var tunings = (await catalog.ListVersionsAsync(_collection)).ToDictionary(t => t.Version, t => t.EfSearchTuning?.ToStatus());
        var versions = _state.Versions.Values.OrderBy(v => v.ChangedAt).Select(v => ToStatus(v, record) with { EfSearch = tunings.GetValueOrDefault(v.Version) }).ToImmutableArray();
        return new RolloutStatus(
            _collection, record?.Epoch ?? 0, versions,
            _state.Rollout is { } rollout ? await ToProgressAsync(rollout) : null,
            _state.Repair is { } repair ? await ToProgressAsync(repair) : null,
            _state.Frozen,
            _state.Rollout?.RetireAt);
    }

    public async Task<RolloutStatus> SetTrafficAsync(string version, int percent)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(percent);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percent, 100);
        var rollout = RequireTrafficPhase(version, "change its traffic");
        if (rollout.Step == RunRecord.Promoted)
        {
            throw new RolloutCommandException($"Version {version} of {_collection} was promoted and serves all traffic; roll back to move traffic to {rollout.From}.");
        }

        var current = await routing.GetAsync(_collection);
        var weight = current?.Traffic.GetValueOrDefault(version) ?? 0;
        if (weight == percent)
        {
            return await GetStatusAsync();
        }

        if (_state.Frozen)
        {
            throw new RolloutCommandException($"Traffic of {_collection} is frozen at {weight}% for {version} (A/B); unfreeze it first.");
        }

        var traffic = new Dictionary<string, int>();
        if (percent < 100)
        {
            traffic[rollout.From!] = 100 - percent;
        }

        if (percent > 0)
        {
            traffic[version] = percent;
        }

        await UpdateRoutingAsync(r => (r.WriteTargets, traffic));
        SetState(GetVersion(version), percent > 0 ? VersionState.Serving : VersionState.Ready);
        await SaveAsync();
        LogTraffic(logger, _collection, version, percent);
        return await GetStatusAsync();
    }

    public async Task<RolloutStatus> FreezeAsync(bool frozen)
    {
        if (_state.Rollout is not { Step: RunRecord.Ready } rollout)
        {
            throw new RolloutCommandException(
                $"Traffic of {_collection} can be frozen only while a rollout is Ready or Serving; the rollout is {DescribeRollout()}.");
        }

        if (_state.Frozen != frozen)
        {
            _state.Frozen = frozen;
            await SaveAsync();
            LogFrozen(logger, _collection, rollout.Version, frozen);
        }

        return await GetStatusAsync();
    }

    public async Task<RolloutStatus> PromoteAsync(string version)
    {
        if (GetVersion(version).State == VersionState.Primary)
        {
            return await GetStatusAsync();
        }

        var rollout = RequireTrafficPhase(version, "promote it");
        if (_state.Frozen)
        {
            throw new RolloutCommandException($"Traffic of {_collection} is frozen for an A/B comparison of {version}; unfreeze it before promoting.");
        }

        await UpdateRoutingAsync(r => (r.WriteTargets, new Dictionary<string, int> { [version] = 100 }));
        SetState(GetVersion(version), VersionState.Primary);
        SetState(GetVersion(rollout.From!), VersionState.Draining);
        rollout.Step = RunRecord.Promoted;
        rollout.RetireAt = DateTimeOffset.UtcNow + _options.RollbackWindow;
        await SaveAsync();
        LogPromoted(logger, _collection, version, rollout.From!, rollout.RetireAt.Value);
        return await GetStatusAsync();
    }

    public async Task<RolloutStatus> RollbackAsync()
    {
        var rollout = _state.Rollout;
        if (rollout is { Step: RunRecord.RolledBack })
        {
            return await GetStatusAsync();
        }

        if (rollout is null || rollout.Step is not (RunRecord.Ready or RunRecord.Promoted))
        {
            throw new RolloutCommandException(rollout is { IsLoading: true }
                ? $"The rollout of {rollout.Version} in {_collection} is at step {rollout.Step} and serves no traffic; cancel it instead."
                : $"There is nothing to roll back in {_collection}: the rollout is {DescribeRollout()}.");
        }

        var from = rollout.From!;
        await UpdateRoutingAsync(r => ([.. r.WriteTargets.Where(v => v != rollout.Version)], new Dictionary<string, int> { [from] = 100 }));
        SetState(GetVersion(from), VersionState.Primary);
        SetState(GetVersion(rollout.Version), VersionState.RolledBack);
        rollout.Step = RunRecord.RolledBack;
        rollout.RetireAt = null;
        _state.Frozen = false;
        await SaveAsync();
        LogRolledBack(logger, _collection, rollout.Version, from);
        return await GetStatusAsync();
    }

    public async Task<RolloutStatus> RetireAsync(string version)
    {
        var target = GetVersion(version);
        if (target.State == VersionState.Retired || _state.Retiring.Any(r => r.Version == version))
        {
            return await GetStatusAsync();
        }

        var current = await routing.GetAsync(_collection);
        var weight = current?.Traffic.GetValueOrDefault(version) ?? 0;
        if (weight > 0 || target.State == VersionState.Primary)
        {
            throw new RolloutCommandException($"Version {version} of {_collection} is {target.State} and receives {weight}% of search traffic; move its traffic away before retiring it.");
        }

        if (_state.Rollout is { } rollout && rollout.Version == version && rollout.Step is not (RunRecord.Failed or RunRecord.Cancelled or RunRecord.RolledBack or RunRecord.Done))
        {
            throw new RolloutCommandException($"Version {version} of {_collection} is being rolled out (step {rollout.Step}); cancel or roll back the rollout first.");
        }

        if (_state.Repair is { NeedsTicks: true } repair && repair.Version == version)
        {
            throw new RolloutCommandException($"A repair of {version} is in progress in {_collection}; wait for it to finish.");
        }

        if (_state.Rollout is { Step: RunRecord.Promoted } promoted && promoted.From == version)
        {
            promoted.Step = RunRecord.Done; // retired before the rollback window ended
            promoted.RetireAt = null;
        }

        _state.Retiring.Add(new RetireRecord { Version = version });
        await SaveAsync();
        LogRetiring(logger, _collection, version);
        await AdvanceAsync();
        return await GetStatusAsync();
    }

    public async Task<RolloutStatus> RepairAsync(string version)
    {
        var target = GetVersion(version);
        if (_state.Repair is { NeedsTicks: true } running)
        {
            if (running.Version == version)
            {
                return await GetStatusAsync();
            }

            throw new RolloutCommandException($"A repair of {running.Version} is in progress in {_collection}; wait for it to finish before repairing {version}.");
        }

        if (_state.Rollout is { IsLoading: true } rollout && rollout.Version == version)
        {
            throw new RolloutCommandException($"Version {version} of {_collection} is being loaded by its rollout (step {rollout.Step}), which reconciles it already.");
        }

        var current = await routing.GetAsync(_collection);
        if (current is null || !current.WriteTargets.Contains(version) || _state.Retiring.Any(r => r.Version == version))
        {
            throw new RolloutCommandException($"Version {version} of {_collection} is {target.State} and not written to; only a version that receives live writes can be repaired.");
        }

        var now = DateTimeOffset.UtcNow;
        _state.Repair = new RunRecord { Kind = RunRecord.RepairKind, RunId = NewRunId(), Version = version, Step = RunRecord.Loading, StartedAt = now };
        await BeginPassAsync(_state.Repair, 1, await RequireTableAsync(version));
        await SaveAsync();
        LogRepairing(logger, _collection, version);
        UpdateTimer();
        return await GetStatusAsync();
    }

    public async Task<RolloutStatus> CancelAsync()
    {
        var rollout = _state.Rollout;
        if (rollout is { Step: RunRecord.Cancelled })
        {
            return await GetStatusAsync();
        }

        if (rollout is null || !(rollout.IsLoading || rollout.Step == RunRecord.Ready))
        {
            throw new RolloutCommandException($"There is no rollout to cancel in {_collection}: the rollout is {DescribeRollout()}.");
        }

        var current = await routing.GetAsync(_collection);
        var weight = current?.Traffic.GetValueOrDefault(rollout.Version) ?? 0;
        if (weight > 0)
        {
            throw new RolloutCommandException($"Version {rollout.Version} of {_collection} is Serving {weight}% of search traffic; roll back instead of cancelling.");
        }

        await EndLoadAsync(rollout, RunRecord.Cancelled, "cancelled by an operator");
        return await GetStatusAsync();
    }

    public Task ResumeAsync()
    {
        UpdateTimer();
        return Task.CompletedTask;
    }

    // ---- the timer: advances whatever is in progress ----

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        try
        {
            await AdvanceAsync();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogTickFailed(logger, ex, _collection);
            await ForgetUnsavedAsync();
        }
        finally
        {
            UpdateTimer();
        }
    }

    // The stored state, or the one bootstrapped from the catalog when nothing is stored yet.
    private async Task ReadStateAsync(CancellationToken cancellationToken)
    {
        _tables.Clear();
        if (await stateStore.ReadAsync(_collection, cancellationToken) is { } stored)
        {
            _state = JsonSerializer.Deserialize<CoordinatorState>(stored.Json, s_json) ?? new CoordinatorState();
            _revision = stored.Revision;
        }
        else
        {
            _state = new CoordinatorState();
            _revision = 0;
            await BootstrapAsync(cancellationToken);
        }
    }

    // Drops changes a failure left unsaved by reading the stored state again; when the database cannot answer either,
    // the activation goes, and the next call (or the supervisor, for a run in progress) reads it on activating.
    private async Task ForgetUnsavedAsync()
    {
        _unfailedSince = DateTimeOffset.UtcNow;
        try
        {
            await ReadStateAsync(CancellationToken.None);
            UpdateTimer();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogStateUnread(logger, ex, _collection);
            DeactivateOnIdle();
        }
    }

    private async Task AdvanceAsync()
    {
        if (_state.Rollout is { } rollout)
        {
            await AdvanceRolloutAsync(rollout);
        }

        if (_state.Repair is { NeedsTicks: true } repair)
        {
            await AdvanceLoadAsync(repair);
        }

        foreach (var retiring in _state.Retiring.ToList())
        {
            await AdvanceRetireAsync(retiring);
        }
    }

    private async Task AdvanceRolloutAsync(RunRecord rollout)
    {
        switch (rollout.Step)
        {
            case RunRecord.DualWrite:
                await AdvanceDualWriteAsync(rollout);
                break;
            case RunRecord.Loading or RunRecord.Indexing:
                await AdvanceLoadAsync(rollout);
                break;
            case RunRecord.Promoted when rollout.RetireAt is { } retireAt && DateTimeOffset.UtcNow >= retireAt:
                rollout.Step = RunRecord.Done;
                rollout.RetireAt = null;
                _state.Retiring.Add(new RetireRecord { Version = rollout.From! });
                await SaveAsync();
                LogRetiring(logger, _collection, rollout.From!);
                break;
        }
    }

    // Step 3: the new version becomes a write target; the load starts only when every active silo routes by that epoch.
    private async Task AdvanceDualWriteAsync(RunRecord rollout)
    {
        if (rollout.TargetEpoch is null)
        {
            var record = await UpdateRoutingAsync(r => (r.WriteTargets.Contains(rollout.Version) ? r.WriteTargets : [.. r.WriteTargets, rollout.Version], r.Traffic));
            rollout.TargetEpoch = record.Epoch;
            await SaveAsync();
        }

        var missing = await SilosBehindAsync(rollout.TargetEpoch.Value);
        if (missing.Count == 0)
        {
            var table = await RequireTableAsync(rollout.Version);
            rollout.UpdatedBefore = await DatabaseNowAsync();
            rollout.Step = RunRecord.Loading;
            await BeginPassAsync(rollout, 1, table);
            SetState(GetVersion(rollout.Version), VersionState.Loading);
            await SaveAsync();
            LogLoading(logger, _collection, rollout.Version, rollout.TargetEpoch.Value, rollout.PassTotal);
        }
        else if (DateTimeOffset.UtcNow > rollout.StepDeadline && DateTimeOffset.UtcNow > _unfailedSince + _options.AckTimeout)
        {
            await EndLoadAsync(rollout, RunRecord.Failed,
                $"silo(s) {string.Join(", ", missing)} did not acknowledge routing epoch {rollout.TargetEpoch} within {_options.AckTimeout.TotalSeconds:F0} s, so the bulk load did not start");
        }
    }

    // Steps 4 and 5: passes of shard grains until one writes nothing, then the index, then Ready.
    private async Task AdvanceLoadAsync(RunRecord run)
    {
        var table = await RequireTableAsync(run.Version);
        if (run.Step == RunRecord.Indexing)
        {
            await AdvanceIndexAsync(run, table);
            return;
        }

        var assignments = Assignments(run);
        await Task.WhenAll(assignments.Select(a => GrainFactory.GetGrain<IBulkLoadShardGrain>(a.GrainKey).EnsureRunningAsync(a)));
        var ranges = await checkpoints.ListAsync(_collection, run.Version, run.RunId);
        run.Resumes = Math.Max(run.Resumes, ranges.Sum(r => r.Resumes));
        if (ranges.Count < assignments.Count || ranges.Any(r => r.Pass != run.Pass || !r.Done))
        {
            return;
        }

        var written = ranges.Sum(r => r.Written);
        LogPassDone(logger, _collection, run.Kind, run.Version, run.Pass, written);
        if (written == 0)
        {
            await StopShardsAsync(run);
            if (run.Kind == RunRecord.RepairKind)
            {
                run.Step = RunRecord.Done;
                await SaveAsync();
                return;
            }

            run.Step = RunRecord.Indexing;
            await SaveAsync();
            await AdvanceIndexAsync(run, table);
        }
        else if (run.Pass >= _options.MaxPasses)
        {
            var error = $"pass {run.Pass} still wrote {written} documents; the version did not converge in {_options.MaxPasses} passes";
            if (run.Kind == RunRecord.RepairKind)
            {
                await StopShardsAsync(run);
                run.Step = RunRecord.Failed;
                run.Error = error;
                await SaveAsync();
            }
            else
            {
                await EndLoadAsync(run, RunRecord.Failed, error);
            }
        }
        else
        {
            await BeginPassAsync(run, run.Pass + 1, table);
            if (run.Kind == RunRecord.RolloutKind)
            {
                SetState(GetVersion(run.Version), VersionState.Reconciling);
            }

            await SaveAsync();
        }
    }

    private async Task AdvanceIndexAsync(RunRecord run, VersionTable table)
    {
        SetState(GetVersion(run.Version), VersionState.Reconciling);
        if (_indexBuild is null || _indexBuildVersion != run.Version)
        {
            var hnsw = _options.ToHnswIndexOptions();
            _indexBuildVersion = run.Version;
            // Then the ef_search its searches use, measured on the new index (a target out of reach is recorded, not a failure).
            _indexBuild = Task.Run(async () =>
            {
                await indexes.BuildAsync(table, hnsw);
                await tuner.TuneAsync(table);
            });
            LogIndexing(logger, _collection, run.Version);
        }

        if (!_indexBuild.IsCompleted)
        {
            return;
        }

        var build = _indexBuild;
        _indexBuild = null;
        if (build.Exception is { } failed)
        {
            // A build whose connection was lost (terminated, the server restarting) is started again on the next tick:
            // the builder drops the invalid index a broken CREATE INDEX CONCURRENTLY leaves. Any other failure ends the load.
            if (PostgresFailures.IsConnectionLoss(failed))
            {
                GetVersion(run.Version).Error = $"building the HNSW index again after losing its connection: {failed.GetBaseException().Message}";
                LogIndexRetry(logger, failed.GetBaseException(), _collection, run.Version);
                return;
            }

            await EndLoadAsync(run, RunRecord.Failed, $"building the HNSW index (or measuring its ef_search) failed: {failed.GetBaseException().Message}");
            return;
        }

        GetVersion(run.Version).Error = null;

        run.Step = RunRecord.Ready;
        run.StepDeadline = null;
        SetState(GetVersion(run.Version), VersionState.Ready);
        await SaveAsync();
        await checkpoints.DeleteRunAsync(_collection, run.Version, run.RunId);
        LogReady(logger, _collection, run.Version, DateTimeOffset.UtcNow - run.StartedAt);
    }

    // Step 7: leave the write targets, wait for every silo, a grace period for calls in flight, then drop the table.
    private async Task AdvanceRetireAsync(RetireRecord retiring)
    {
        var version = GetVersion(retiring.Version);
        if (retiring.TargetEpoch is null)
        {
            var record = await UpdateRoutingAsync(r => ([.. r.WriteTargets.Where(v => v != retiring.Version)], r.Traffic.Where(t => t.Key != retiring.Version).ToDictionary()));
            retiring.TargetEpoch = record.Epoch;
            SetState(version, VersionState.Draining);
            await SaveAsync();
        }

        if (retiring.DropAfter is null)
        {
            var missing = await SilosBehindAsync(retiring.TargetEpoch.Value);
            if (missing.Count > 0)
            {
                version.Error = $"waiting for silo(s) {string.Join(", ", missing)} to acknowledge routing epoch {retiring.TargetEpoch} before dropping the table";
                return;
            }

            retiring.DropAfter = DateTimeOffset.UtcNow + _options.DropGrace;
            version.Error = null;
            await SaveAsync();
        }

        if (DateTimeOffset.UtcNow < retiring.DropAfter)
        {
            return;
        }

        await catalog.DropVersionAsync(_collection, retiring.Version);
        _tables.Remove(retiring.Version);
        SetState(version, VersionState.Retired);
        _state.Retiring.Remove(retiring);
        await SaveAsync();
        LogRetired(logger, _collection, retiring.Version);
    }

    // A load that ends before Ready (failed or cancelled): stop writing the version and its shards.
    private async Task EndLoadAsync(RunRecord rollout, string step, string error)
    {
        await UpdateRoutingAsync(r => ([.. r.WriteTargets.Where(v => v != rollout.Version)], r.Traffic));
        await StopShardsAsync(rollout);
        rollout.Step = step;
        rollout.Error = error;
        rollout.StepDeadline = null;
        var version = GetVersion(rollout.Version);
        version.Error = error;
        SetState(version, VersionState.Failed);
        await SaveAsync();
        LogLoadEnded(logger, _collection, rollout.Version, step, error);
    }

    private async Task BeginPassAsync(RunRecord run, int pass, VersionTable table)
    {
        run.Pass = pass;
        run.PassStartedAt = DateTimeOffset.UtcNow;
        run.PassTotal = (await reconciliation.CountDivergenceAsync(table, run.UpdatedBefore)).Total;
    }

    private List<LoadAssignment> Assignments(RunRecord run)
    {
        var ranges = _options.ShardRanges;
        return [.. Enumerable.Range(0, ranges).Select(i => new LoadAssignment(
            _collection, run.Version, run.RunId, i, i * 256 / ranges, (i + 1) * 256 / ranges, run.Pass, run.UpdatedBefore, _options.PageSize))];
    }

    private async Task StopShardsAsync(RunRecord run)
    {
        if (run.Pass > 0)
        {
            await Task.WhenAll(Assignments(run).Select(a => GrainFactory.GetGrain<IBulkLoadShardGrain>(a.GrainKey).StopAsync()));
        }
    }

    // ---- helpers ----

    private RunRecord RequireTrafficPhase(string version, string action)
    {
        var target = GetVersion(version);
        if (_state.Rollout is not { } rollout || rollout.Version != version || rollout.Step is not (RunRecord.Ready or RunRecord.Promoted))
        {
            throw new RolloutCommandException(
                $"Version {version} of {_collection} is {target.State}; only the version of a rollout that is Ready or Serving can {action} (the rollout is {DescribeRollout()}).");
        }

        return rollout;
    }

    private string DescribeRollout() => _state.Rollout is { } r ? $"{r.Version} over {r.From} at step {r.Step}" : "none";

    private VersionRecord GetVersion(string version) =>
        _state.Versions.TryGetValue(version, out var record)
            ? record
            : throw new RolloutCommandException($"Collection {_collection} has no version {version}; register it first (known: {string.Join(", ", _state.Versions.Keys)}).");

    // A version's table never changes shape, and the timer asks for it on every tick of a load.
    private async Task<VersionTable> RequireTableAsync(string version)
    {
        if (!_tables.TryGetValue(version, out var table))
        {
            table = await catalog.GetVersionAsync(_collection, version)
                ?? throw new InvalidOperationException($"Version {version} of {_collection} has no table.");
            _tables[version] = table;
        }

        return table;
    }

    private static void SetState(VersionRecord record, VersionState state)
    {
        if (record.State != state)
        {
            record.State = state;
            record.ChangedAt = DateTimeOffset.UtcNow;
        }
    }

    private async Task<IReadOnlyList<string>> SilosBehindAsync(long epoch)
    {
        var acks = await routing.GetAcknowledgementsAsync(_collection);
        return [.. devices.ActiveSiloNames().Where(s => acks.GetValueOrDefault(s) < epoch)];
    }

    private async Task<DateTimeOffset> DatabaseNowAsync()
    {
        await using var command = dataSource.CreateCommand("SELECT clock_timestamp()");
        return new DateTimeOffset((DateTime)(await command.ExecuteScalarAsync())!, TimeSpan.Zero);
    }

    // Compare-and-set on the routing epoch; the routing change is pushed to every silo by the table's trigger.
    private async Task<RoutingRecord> UpdateRoutingAsync(Func<RoutingRecord, (IReadOnlyList<string> Targets, IReadOnlyDictionary<string, int> Traffic)> change)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var current = await routing.GetAsync(_collection)
                ?? throw new InvalidOperationException($"Collection {_collection} has no routing.");
            var (targets, traffic) = change(current);
            if (targets.SequenceEqual(current.WriteTargets) && traffic.Count == current.Traffic.Count && traffic.All(t => current.Traffic.GetValueOrDefault(t.Key, -1) == t.Value))
            {
                return current;
            }

            if (await routing.SetAsync(_collection, current.Epoch, targets, traffic) is { } updated)
            {
                return updated;
            }
        }

        throw new InvalidOperationException($"The routing of {_collection} kept changing under the coordinator.");
    }

    private async Task SaveAsync()
    {
        var json = JsonSerializer.Serialize(_state, s_json);
        var revision = await stateStore.WriteAsync(_collection, _revision, json, _state.NeedsTicks);
        if (revision is null)
        {
            DeactivateOnIdle();
            throw new InvalidOperationException($"The coordinator state of {_collection} was changed by another activation; retry the command.");
        }

        _revision = revision.Value;
        UpdateTimer();
    }

    private void UpdateTimer()
    {
        if (_state.NeedsTicks && _timer is null)
        {
            _timer = this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(_options.TickInterval, _options.TickInterval) { KeepAlive = true });
        }
        else if (!_state.NeedsTicks && _timer is not null)
        {
            _timer.Dispose();
            _timer = null;
        }
    }

    // First activation: versions from the catalog, states from the routing that CollectionSetup (or an older release) wrote.
    private async Task BootstrapAsync(CancellationToken cancellationToken)
    {
        var record = await routing.GetAsync(_collection, cancellationToken);
        foreach (var table in await catalog.ListVersionsAsync(_collection, cancellationToken))
        {
            var weight = record?.Traffic.GetValueOrDefault(table.Version) ?? 0;
            var (modelPath, queryModelPath, tokenizerRevision) = await catalog.GetModelPathsAsync(_collection, table.Version, cancellationToken);
            var state = weight == 100 ? VersionState.Primary : weight > 0 ? VersionState.Serving : VersionState.Registered;
            _state.Versions[table.Version] = new VersionRecord
            {
                Version = table.Version,
                State = state,
                Dimensions = table.Dimensions,
                ModelPath = modelPath,
                QueryModelPath = queryModelPath,
                TokenizerRevision = tokenizerRevision,
                Representation = VersionLayoutPlanner.RepresentationOf(table),
                RerankOversample = table.RerankOversample,
                BinaryBits = table.BinaryBits,
                ChangedAt = DateTimeOffset.UtcNow,
            };
        }
    }

    private async Task<string?> ProbeOnEverySiloAsync(EmbeddingModelFolder folder, string version, int dimensions)
    {
        var targets = devices.ActiveDevices();
        if (targets.Count == 0)
        {
            return "no active silo owns a device to probe the model on";
        }

        foreach (var device in targets)
        {
            try
            {
                var worker = GrainFactory.GetGrain<IEmbeddingWorkerGrain>(new WorkerKey(_collection, version, device.Silo, device.Device).ToString());
                // Both paths: a version may embed queries with a model of their own.
                var document = (await worker.EmbedAsync([ModelProbe.Text], TextKind.Document))[0];
                if ((ModelProbe.Check(folder, document, dimensions) ?? ModelProbe.Check(folder, await worker.EmbedQueryAsync(ModelProbe.Text), dimensions)) is { } problem)
                {
                    return $"on silo {device.Silo} ({device.Device}), {problem}";
                }
            }
            catch (DatabaseFailureException ex) when (ex.Transient)
            {
                // The worker could not read its version from the database: says nothing of the model.
                throw;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                return $"silo {device.Silo} ({device.Device}) could not load or run the model in {folder.Directory}: {ex.GetBaseException().Message}";
            }
        }

        return null;
    }

    private ModelVersionStatus ToStatus(VersionRecord record, RoutingRecord? routed) => new(
        record.Version, record.State, routed?.Traffic.GetValueOrDefault(record.Version) ?? 0, routed?.WriteTargets.Contains(record.Version) ?? false,
        record.Dimensions, record.ModelPath, record.Error, record.ChangedAt)
    {
        Representation = LayoutOf(record).Description,
        QueryModelPath = record.QueryModelPath,
        // A version the coordinator recorded before revisions were (its state has none) was embedded with the legacy one.
        TokenizerRevision = record.ModelPath is null ? null : record.TokenizerRevision ?? TokenizerRevisionNames.MlTokenizersBert20,
    };

    private async Task<RunProgress> ToProgressAsync(RunRecord run)
    {
        long done = 0;
        var resumes = run.Resumes;
        if (run.IsLoading && run.Pass > 0)
        {
            var ranges = await checkpoints.ListAsync(_collection, run.Version, run.RunId);
            done = ranges.Where(r => r.Pass == run.Pass).Sum(r => r.Written);
            resumes = Math.Max(resumes, ranges.Sum(r => r.Resumes));
        }

        var elapsed = DateTimeOffset.UtcNow - run.PassStartedAt;
        var rate = run.Step == RunRecord.Loading && elapsed.TotalSeconds > 0 ? done / elapsed.TotalSeconds : 0;
        TimeSpan? eta = rate > 0 ? TimeSpan.FromSeconds(Math.Max(0, run.PassTotal - done) / rate) : null;
        return new RunProgress(run.Kind, run.Version, run.From, run.Step, run.Pass, done, run.PassTotal, rate, eta, resumes, run.StartedAt, run.Error);
    }

    private static string NewRunId() => Guid.NewGuid().ToString("N")[..12];

    [LoggerMessage(EventId = 5000, Level = LogLevel.Information, Message = "{Collection}: registered version {Version} ({Dimensions} dims) from {Path}")]
    private static partial void LogRegistered(ILogger logger, string collection, string version, string path, int dimensions);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "{Collection}: rollout of {Version} beside {From} started; waiting for every silo to write to it")]
    private static partial void LogStarted(ILogger logger, string collection, string version, string from);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "{Collection}: every silo writes to {Version} (epoch {Epoch}); bulk load of {Total} documents started")]
    private static partial void LogLoading(ILogger logger, string collection, string version, long epoch, long total);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "{Collection}: {Kind} of {Version}, pass {Pass} wrote {Written} documents")]
    private static partial void LogPassDone(ILogger logger, string collection, string kind, string version, int pass, long written);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "{Collection}: building the HNSW index of {Version}")]
    private static partial void LogIndexing(ILogger logger, string collection, string version);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Information, Message = "{Collection}: version {Version} is Ready, {Elapsed} after the rollout started")]
    private static partial void LogReady(ILogger logger, string collection, string version, TimeSpan elapsed);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Information, Message = "{Collection}: {Percent}% of search traffic goes to {Version}")]
    private static partial void LogTraffic(ILogger logger, string collection, string version, int percent);

    [LoggerMessage(EventId = 5007, Level = LogLevel.Information, Message = "{Collection}: traffic split for {Version} frozen: {Frozen}")]
    private static partial void LogFrozen(ILogger logger, string collection, string version, bool frozen);

    [LoggerMessage(EventId = 5008, Level = LogLevel.Information, Message = "{Collection}: {Version} promoted over {From}, which is written until {RetireAt}")]
    private static partial void LogPromoted(ILogger logger, string collection, string version, string from, DateTimeOffset retireAt);

    [LoggerMessage(EventId = 5009, Level = LogLevel.Warning, Message = "{Collection}: rolled back from {Version} to {From}")]
    private static partial void LogRolledBack(ILogger logger, string collection, string version, string from);

    [LoggerMessage(EventId = 5010, Level = LogLevel.Information, Message = "{Collection}: retiring {Version}")]
    private static partial void LogRetiring(ILogger logger, string collection, string version);

    [LoggerMessage(EventId = 5011, Level = LogLevel.Information, Message = "{Collection}: version {Version} retired; its table was dropped")]
    private static partial void LogRetired(ILogger logger, string collection, string version);

    [LoggerMessage(EventId = 5012, Level = LogLevel.Information, Message = "{Collection}: repair of {Version} started")]
    private static partial void LogRepairing(ILogger logger, string collection, string version);

    [LoggerMessage(EventId = 5013, Level = LogLevel.Warning, Message = "{Collection}: the load of {Version} ended ({Step}): {Error}")]
    private static partial void LogLoadEnded(ILogger logger, string collection, string version, string step, string error);

    [LoggerMessage(EventId = 5015, Level = LogLevel.Warning, Message = "{Collection}: building the HNSW index of {Version} lost its connection; it is built again")]
    private static partial void LogIndexRetry(ILogger logger, Exception exception, string collection, string version);

    [LoggerMessage(EventId = 5016, Level = LogLevel.Warning, Message = "{Collection}: the coordinator state could not be read again after a failure; the coordinator deactivates and reads it when activated")]
    private static partial void LogStateUnread(ILogger logger, Exception exception, string collection);

    [LoggerMessage(EventId = 5014, Level = LogLevel.Warning, Message = "{Collection}: advancing the coordinator failed; it retries on the next tick")]
    private static partial void LogTickFailed(ILogger logger, Exception exception, string collection);
}
