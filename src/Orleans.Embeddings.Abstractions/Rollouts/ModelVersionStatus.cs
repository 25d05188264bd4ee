namespace Orleans.Embeddings.Rollouts;

/// <summary>One model version of a collection as the coordinator sees it (<paramref name="Dimensions"/>: the stored length).</summary>
[GenerateSerializer, Immutable]
public sealed record ModelVersionStatus(
    [property: Id(0)] string Version,
    [property: Id(1)] VersionState State,
    [property: Id(2)] int TrafficPercent,
    [property: Id(3)] bool WriteTarget,
    [property: Id(4)] int Dimensions,
    [property: Id(5)] string? ModelPath,
    [property: Id(6)] string? Error,
    [property: Id(7)] DateTimeOffset StateChangedAt)
{
    /// <summary>How the version stores and indexes vectors, e.g. <c>vector(384)</c>, <c>halfvec(256)</c>, <c>binary(384)+halfvec rerank x4</c>.</summary>
    [Id(8)]
    public string? Representation { get; init; }

    /// <summary>The separate query model folder, or null when queries use the document model.</summary>
    [Id(9)]
    public string? QueryModelPath { get; init; }

    /// <summary>
    /// The tokenizer revision the version tokenizes with for its whole life, e.g. <c>bert-hf</c> (Hugging Face's exact
    /// BERT tokenization) or <c>mltokenizers-bert-2.0</c> (versions registered before it); null before a model is recorded.
    /// </summary>
    [Id(10)]
    public string? TokenizerRevision { get; init; }

    /// <summary>The ef_search tuned on the version's HNSW index for its target recall, or null before its index is measured.</summary>
    [Id(11)]
    public EfSearchTuningStatus? EfSearch { get; init; }
}
