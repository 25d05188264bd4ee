namespace Orleans.Embeddings.Rollouts;

/// <summary>Where a model version of a collection is in its life (DESIGN, Rollout).</summary>
public enum VersionState
{
    /// <summary>Validated and registered; its table exists but nothing is written to it.</summary>
    Registered,

    /// <summary>Its table is being prepared and its epoch acknowledged before the load.</summary>
    Provisioning,

    /// <summary>Live changes are written to it and the bulk load (the first reconciliation pass) runs.</summary>
    Loading,

    /// <summary>Further reconciliation passes, then the ANN index build.</summary>
    Reconciling,

    /// <summary>Complete and indexed: it may receive search traffic.</summary>
    Ready,

    /// <summary>Receiving a share of the search traffic.</summary>
    Serving,

    /// <summary>Receiving all search traffic.</summary>
    Primary,

    /// <summary>Replaced, still written for the rollback window, then retired.</summary>
    Draining,

    /// <summary>No longer written; its table is dropped.</summary>
    Retired,

    /// <summary>A step failed or the rollout was cancelled; see the error.</summary>
    Failed,

    /// <summary>Traffic went back to the previous version.</summary>
    RolledBack,
}
