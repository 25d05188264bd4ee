using System.Collections.Immutable;

namespace Orleans.Embeddings.Rollouts;

/// <summary>Everything the coordinator of a collection knows: its versions, routing epoch, and the runs in progress.</summary>
/// <param name="Collection">The collection.</param>
/// <param name="Epoch">The routing epoch.</param>
/// <param name="Versions">Every version not yet forgotten, oldest first.</param>
/// <param name="Rollout">The rollout in progress or last finished, if any.</param>
/// <param name="Repair">The repair in progress or last finished, if any.</param>
/// <param name="TrafficFrozen">True while the traffic split is frozen for an A/B comparison.</param>
/// <param name="RetireAt">When the draining version stops being written (end of the rollback window).</param>
[GenerateSerializer, Immutable]
public sealed record RolloutStatus(
    [property: Id(0)] string Collection,
    [property: Id(1)] long Epoch,
    [property: Id(2)] ImmutableArray<ModelVersionStatus> Versions,
    [property: Id(3)] RunProgress? Rollout,
    [property: Id(4)] RunProgress? Repair,
    [property: Id(5)] bool TrafficFrozen,
    [property: Id(6)] DateTimeOffset? RetireAt);
