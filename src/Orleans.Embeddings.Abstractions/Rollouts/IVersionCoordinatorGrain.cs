namespace Orleans.Embeddings.Rollouts;

/// <summary>
/// Rolls model versions of one collection (its key) in and out with zero downtime: register, start (dual-write, bulk
/// load, reconciliation, index), traffic, freeze, promote, rollback, retire, repair, cancel. State is durable: the
/// coordinator resumes any step in progress after it moves. Each command is idempotent, or throws
/// <see cref="RolloutCommandException"/> naming the state that forbids it.
/// </summary>
public interface IVersionCoordinatorGrain : IGrainWithStringKey
{
    /// <summary>
    /// Registers <paramref name="version"/> with the model folder at <paramref name="modelPath"/> (a path every silo can
    /// read), after loading it and embedding a probe text on a worker of every active silo. Repeating it is a no-op.
    /// </summary>
    Task<ModelVersionStatus> RegisterModelAsync(string version, string modelPath);

    /// <summary>
    /// Registers <paramref name="version"/> as <paramref name="registration"/> says (document model, representation,
    /// Matryoshka length, query model), after checking the combination (binary needs a normalised model, the length must
    /// be one the model lists, the query model must produce the document model's dimensions) and embedding a probe text
    /// as document and as query on a worker of every active silo. Repeating the same registration is a no-op; another
    /// registration under the same name is refused.
    /// </summary>
    Task<ModelVersionStatus> RegisterModelAsync(string version, ModelRegistration registration);

    /// <summary>Starts rolling out a registered version beside the primary one; repeating it for the same version is a no-op.</summary>
    Task<RolloutStatus> StartRolloutAsync(string version);

    /// <summary>The versions, routing and the runs in progress.</summary>
    Task<RolloutStatus> GetStatusAsync();

    /// <summary>Sends <paramref name="percent"/> of search traffic to the rollout's version (sticky by routing key), the rest to the primary.</summary>
    Task<RolloutStatus> SetTrafficAsync(string version, int percent);

    /// <summary>Freezes (or unfreezes) the traffic split for an A/B comparison: traffic changes and promotion are refused while frozen.</summary>
    Task<RolloutStatus> FreezeAsync(bool frozen);

    /// <summary>Sends all traffic to <paramref name="version"/>; the old primary keeps being written for the rollback window.</summary>
    Task<RolloutStatus> PromoteAsync(string version);

    /// <summary>Sends all traffic back to the previous primary at once and stops writing the rollout's version.</summary>
    Task<RolloutStatus> RollbackAsync();

    /// <summary>Stops writing <paramref name="version"/> (epoch acknowledged by every silo), then drops its table; it must receive no traffic.</summary>
    Task<RolloutStatus> RetireAsync(string version);

    /// <summary>Runs reconciliation passes on a version that is written to, until one finds nothing.</summary>
    Task<RolloutStatus> RepairAsync(string version);

    /// <summary>Cancels the rollout in progress before it serves traffic: the new version stops being written and is marked failed.</summary>
    Task<RolloutStatus> CancelAsync();

    /// <summary>Wakes the coordinator so it resumes a run in progress (called by every silo's supervisor).</summary>
    Task ResumeAsync();
}
