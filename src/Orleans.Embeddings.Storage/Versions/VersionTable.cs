using Orleans.Embeddings.Storage.Naming;
using Orleans.Embeddings.Storage.Search;

namespace Orleans.Embeddings.Storage.Versions;

/// <summary>The embedding table of one model version of one collection, as the registry records it.</summary>
/// <param name="Collection">The collection name.</param>
/// <param name="Version">The model version name.</param>
/// <param name="Dimensions">The number of dimensions every vector of the version has.</param>
/// <param name="ElementType">How vectors are stored.</param>
/// <param name="Distance">How neighbours are ranked.</param>
/// <param name="TableName">The generated table name.</param>
public sealed record VersionTable(
    string Collection,
    string Version,
    int Dimensions,
    VectorElementType ElementType,
    DistanceMetric Distance,
    string TableName)
{
    /// <summary>What the ANN index is built on: the stored vectors, or their binary quantization.</summary>
    public VectorQuantization Quantization { get; init; } = VectorQuantization.None;

    /// <summary>With binary quantization: candidates per requested hit reranked exactly on the stored vector.</summary>
    public int RerankOversample { get; init; } = VersionLayout.DefaultRerankOversample;

    /// <summary>
    /// With binary quantization: the vector subtracted before taking sign bits (the table's mean when its index was first
    /// built), or null before that. Embeddings share a large common direction; the signs of what remains separate
    /// documents far better (on the seeded minilm-l6, recall of 4 × oversampled candidates 0.64 → 0.91).
    /// </summary>
    public float[]? QuantizationCenter { get; init; }

    /// <summary>With binary quantization: bits per dimension (1 or 2, see <see cref="VersionLayout.BinaryBits"/>).</summary>
    public int BinaryBits { get; init; } = 1;

    /// <summary>With two bits per dimension: the distance of the two thresholds from the centre (0.6745 σ per dimension).</summary>
    public float[]? QuantizationSpread { get; init; }

    /// <summary>
    /// The ef_search measured on the version's HNSW index for its target recall (null before it is measured): searches
    /// that set none use it.
    /// </summary>
    public EfSearchTuning? EfSearchTuning { get; init; }

    /// <summary>How the version stores, indexes and ranks its vectors.</summary>
    public VersionLayout Layout => new(Dimensions, ElementType, Distance) { Quantization = Quantization, RerankOversample = RerankOversample, BinaryBits = BinaryBits };

    /// <summary>The quoted table identifier, safe to put into SQL text.</summary>
    public string QuotedTable => StorageNames.Quote(TableName);

    /// <summary>The SQL type of the vector column, e.g. <c>vector(384)</c>.</summary>
    public string ColumnType => $"{SqlElementType}({Dimensions})";

    /// <summary><c>vector</c> or <c>halfvec</c>.</summary>
    public string SqlElementType => ElementType == VectorElementType.HalfVec ? "halfvec" : "vector";

    /// <summary>The pgvector distance operator of this version.</summary>
    public string DistanceOperator => Distance switch
    {
        DistanceMetric.Cosine => "<=>",
        DistanceMetric.InnerProduct => "<#>",
        _ => "<->",
    };

    /// <summary>The HNSW operator class matching the element type and distance.</summary>
    public string OperatorClass => $"{SqlElementType}_{Distance switch
    {
        DistanceMetric.Cosine => "cosine",
        DistanceMetric.InnerProduct => "ip",
        _ => "l2",
    }}_ops";

    /// <summary>
    /// What the HNSW index is built on and what an index search orders by: the embedding column, or its binary
    /// quantization (cast to its length, as pgvector's HNSW needs a fixed-length bit type).
    /// </summary>
    /// <param name="column">The vector column or parameter expression, e.g. <c>t.embedding</c>.</param>
    public string IndexExpression(string column)
    {
        if (Quantization != VectorQuantization.Binary)
        {
            return column;
        }

        // With its centre recorded, a version has its quantizer function (created with it): see QuantizerDefinition.
        return QuantizationCenter is null
            ? BinaryCode(column, null, null)
            : $"({StorageNames.Quote(StorageNames.QuantizerFunctionName(TableName))}({column})::bit({BinaryBits * Dimensions}))"; // a function's result has no length: HNSW needs one
    }

    /// <summary>
    /// The <c>CREATE FUNCTION</c> of a binary version's quantizer, holding its centre (and spread): a SQL-standard body is
    /// stored parsed, with the centre as a binary constant, so a search's text stays short and the planner, which inlines
    /// the function on both sides, still matches the index. Null when the version is not binary or has no centre yet.
    /// </summary>
    public string? QuantizerDefinition => Quantization == VectorQuantization.Binary && QuantizationCenter is { } center
        ? $"""
          CREATE OR REPLACE FUNCTION {StorageNames.Quote(StorageNames.QuantizerFunctionName(TableName))}(v {SqlElementType}) RETURNS bit({BinaryBits * Dimensions})
          LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
          RETURN {BinaryCode("v", center, QuantizationSpread)}
          """
        : null;

    private string BinaryCode(string column, float[]? center, float[]? spread)
    {
        if (center is null)
        {
            return BinaryBits == 2
                ? $"((binary_quantize({column}) || binary_quantize({column}))::bit({2 * Dimensions}))"
                : $"(binary_quantize({column})::bit({Dimensions}))";
        }

        if (BinaryBits == 1 || spread is null)
        {
            return $"(binary_quantize(({column}) - '{VectorLiteral(center)}'::{SqlElementType})::bit({BinaryBits * Dimensions}))";
        }

        var high = center.Select((c, i) => c + spread[i]).ToArray();
        var low = center.Select((c, i) => c - spread[i]).ToArray();
        return $"((binary_quantize(({column}) - '{VectorLiteral(high)}'::{SqlElementType}) || binary_quantize(({column}) - '{VectorLiteral(low)}'::{SqlElementType}))::bit({2 * Dimensions}))";
    }

    /// <summary>The HNSW operator class of <see cref="IndexExpression"/>.</summary>
    public string IndexOperatorClass => Quantization == VectorQuantization.Binary ? "bit_hamming_ops" : OperatorClass;

    /// <summary>The operator of <see cref="IndexOperatorClass"/>: Hamming distance for binary, else the version's distance.</summary>
    public string IndexDistanceOperator => Quantization == VectorQuantization.Binary ? "<~>" : DistanceOperator;

    /// <summary>A readable name of the representation, e.g. <c>vector(384)</c>, <c>halfvec(256)</c>, <c>binary(384)+halfvec rerank x4</c>.</summary>
    public string Representation => Layout.Description;

    // Our own numbers, formatted invariantly: the only values ever written into SQL text.
    private static string VectorLiteral(float[] values) =>
        "[" + string.Join(',', values.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))) + "]";

    /// <summary>The SQL expression turning the operator's distance into a higher-is-closer score.</summary>
    internal string ScoreExpression(string distance) => Distance switch
    {
        DistanceMetric.Cosine => $"1 - {distance}",
        _ => $"-({distance})",
    };
}
