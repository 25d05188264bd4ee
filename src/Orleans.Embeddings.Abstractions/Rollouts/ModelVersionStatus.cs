namespace Orleans.Embeddings.Rollouts;

/// <summary>One model version of a collection as the coordinator sees it.</summary>
[GenerateSerializer, Immutable]
public sealed record ModelVersionStatus(
    [property: Id(0)] string Version,
    [property: Id(1)] VersionState State,
    [property: Id(2)] int TrafficPercent,
    [property: Id(3)] bool WriteTarget,
    [property: Id(4)] int Dimensions,
    [property: Id(5)] string? ModelPath,
    [property: Id(6)] string? Error,
    [property: Id(7)] DateTimeOffset StateChangedAt);
