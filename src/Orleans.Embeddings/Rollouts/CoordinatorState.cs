using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Rollouts;

/// <summary>The version coordinator's durable state (stored as JSON in <c>embeddings_coordinators</c>).</summary>
internal sealed class CoordinatorState
{
    public Dictionary<string, VersionRecord> Versions { get; set; } = new(StringComparer.Ordinal);

    public RunRecord? Rollout { get; set; }

    public RunRecord? Repair { get; set; }

    public bool Frozen { get; set; }

    public List<RetireRecord> Retiring { get; set; } = [];

    /// <summary>True while something needs the coordinator's ticks: a load, an index build, a rollback window, a retirement.</summary>
    public bool NeedsTicks => (Rollout?.NeedsTicks ?? false) || (Repair?.NeedsTicks ?? false) || Retiring.Count > 0;
}

internal sealed class VersionRecord
{
    public required string Version { get; set; }

    public VersionState State { get; set; }

    public int Dimensions { get; set; }

    public string? ModelPath { get; set; }

    public string? QueryModelPath { get; set; }

    /// <summary>The tokenizer revision the version tokenizes with (null in states written before revisions were recorded).</summary>
    public string? TokenizerRevision { get; set; }

    public VectorRepresentation Representation { get; set; }

    public int RerankOversample { get; set; } = VersionLayout.DefaultRerankOversample;

    public int BinaryBits { get; set; } = 1;

    public string? Error { get; set; }

    public DateTimeOffset ChangedAt { get; set; }
}

/// <summary>A rollout or a repair: its step, pass and what it needs to resume.</summary>
internal sealed class RunRecord
{
    public const string DualWrite = "dual-write";
    public const string Loading = "loading";
    public const string Indexing = "indexing";
    public const string Ready = "ready";
    public const string Promoted = "promoted";
    public const string Done = "done";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";
    public const string RolledBack = "rolled-back";

    public const string RolloutKind = "rollout";
    public const string RepairKind = "repair";

    public required string Kind { get; set; }

    public required string RunId { get; set; }

    public required string Version { get; set; }

    public string? From { get; set; }

    public string Step { get; set; } = DualWrite;

    public int Pass { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public DateTimeOffset PassStartedAt { get; set; }

    /// <summary>Documents changed at or after this were dual-written live; the load reads only older ones (null: all, a repair).</summary>
    public DateTimeOffset? UpdatedBefore { get; set; }

    public long PassTotal { get; set; }

    public long? TargetEpoch { get; set; }

    public DateTimeOffset? StepDeadline { get; set; }

    public DateTimeOffset? RetireAt { get; set; }

    public string? Error { get; set; }

    /// <summary>Shard ranges resumed from a checkpoint so far in this run.</summary>
    public int Resumes { get; set; }

    public bool IsLoading => Step is DualWrite or Loading or Indexing;

    public bool NeedsTicks => IsLoading || (Step == Promoted && RetireAt is not null);
}

/// <summary>A version leaving the write targets: epoch bump, every silo's acknowledgement, a grace period, then its table is dropped.</summary>
internal sealed class RetireRecord
{
    public required string Version { get; set; }

    public long? TargetEpoch { get; set; }

    public DateTimeOffset? DropAfter { get; set; }
}
