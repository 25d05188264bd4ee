namespace Orleans.Embeddings.Rollouts;

/// <summary>
/// What registering a model version names: the document model, how its vectors are stored (precision, binary
/// quantization, a Matryoshka length), and an optional separate query model whose vectors live in the document
/// model's space. A version is all of these together: every search embeds its query with the version's query model
/// and searches the version's table (DESIGN invariant 4).
/// </summary>
/// <param name="ModelPath">The document model folder, at a path every silo can read.</param>
[GenerateSerializer, Immutable]
public sealed record ModelRegistration([property: Id(0)] string ModelPath)
{
    /// <summary>How vectors are stored and indexed. Default <see cref="VectorRepresentation.Float32"/>.</summary>
    [Id(1)]
    public VectorRepresentation Representation { get; init; } = VectorRepresentation.Float32;

    /// <summary>A Matryoshka length to truncate the model's vectors to (one the model lists), or null for its full length.</summary>
    [Id(2)]
    public int? Dimensions { get; init; }

    /// <summary>A query model folder (at a path every silo can read), or null to embed queries with the document model.</summary>
    [Id(3)]
    public string? QueryModelPath { get; init; }

    /// <summary>With <see cref="VectorRepresentation.Binary"/>: candidates per hit reranked exactly (1–100; null: 4).</summary>
    [Id(4)]
    public int? RerankOversample { get; init; }

    /// <summary>
    /// With <see cref="VectorRepresentation.Binary"/>: bits per dimension in the index, 1 (signs around the centre) or 2 (a
    /// thermometer code around centre ± spread: twice the index bits, far better candidates); null: 1.
    /// </summary>
    [Id(5)]
    public int? BinaryBits { get; init; }

    /// <summary>Parses a representation as the CLI and HTTP API write it: <c>vector</c>/<c>fp32</c>, <c>halfvec</c>/<c>fp16</c> or <c>binary</c>.</summary>
    /// <exception cref="ArgumentException">The text names no representation; the message lists the valid ones.</exception>
    public static VectorRepresentation ParseRepresentation(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "vector" or "fp32" or "float32" => VectorRepresentation.Float32,
        "halfvec" or "fp16" or "float16" => VectorRepresentation.Float16,
        "binary" or "bit" => VectorRepresentation.Binary,
        _ => throw new ArgumentException($"'{text}' is not a vector representation; use vector (fp32), halfvec (fp16) or binary.", nameof(text)),
    };
}
