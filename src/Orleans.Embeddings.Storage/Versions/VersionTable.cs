using Orleans.Embeddings.Storage.Naming;

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

    /// <summary>The SQL expression turning the operator's distance into a higher-is-closer score.</summary>
    internal string ScoreExpression(string distance) => Distance switch
    {
        DistanceMetric.Cosine => $"1 - {distance}",
        _ => $"-({distance})",
    };
}
