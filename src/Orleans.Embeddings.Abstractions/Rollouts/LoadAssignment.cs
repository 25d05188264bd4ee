namespace Orleans.Embeddings.Rollouts;

/// <summary>What a shard range loads: one pass of a run over documents shards [<paramref name="FirstShard"/>, <paramref name="EndShard"/>).</summary>
/// <param name="Collection">The collection.</param>
/// <param name="Version">The version written.</param>
/// <param name="RunId">The run (a rollout or a repair).</param>
/// <param name="RangeIndex">The range.</param>
/// <param name="FirstShard">First documents shard of the range.</param>
/// <param name="EndShard">One past the last shard.</param>
/// <param name="Pass">The pass (1 is the bulk load).</param>
/// <param name="UpdatedBefore">Only documents changed before this (later changes were dual-written live); null: all.</param>
/// <param name="PageSize">Documents per page.</param>
[GenerateSerializer, Immutable]
public sealed record LoadAssignment(
    [property: Id(0)] string Collection,
    [property: Id(1)] string Version,
    [property: Id(2)] string RunId,
    [property: Id(3)] int RangeIndex,
    [property: Id(4)] int FirstShard,
    [property: Id(5)] int EndShard,
    [property: Id(6)] int Pass,
    [property: Id(7)] DateTimeOffset? UpdatedBefore,
    [property: Id(8)] int PageSize)
{
    /// <summary>The key of the shard grain that runs this range.</summary>
    public string GrainKey => $"{Collection}/{Version}/{RunId}/{RangeIndex}";
}
