namespace Orleans.Embeddings.Storage.Search;

/// <summary>How <see cref="EfSearchTuner"/> measures a version's index.</summary>
public sealed class EfSearchTunerOptions
{
    /// <summary>Default <see cref="TargetRecall"/>.</summary>
    public const double DefaultTargetRecall = 0.95;

    /// <summary>Default <see cref="SampleSize"/>: 250 queries put a recall of 0.95 within about ±0.01 (two standard errors).</summary>
    public const int DefaultSampleSize = 250;

    /// <summary>The k of the recall measured (recall@10).</summary>
    public const int RecallK = 10;

    /// <summary>Default <see cref="Ladder"/>.</summary>
    public static readonly IReadOnlyList<int> DefaultLadder = [10, 20, 40, 60, 80, 100, 120, 160, 200, 300, 400, 600, 800, 1000];

    /// <summary>
    /// The recall@10 to reach when the collection sets none (<c>embeddings_collections.target_recall</c>), above 0 and at
    /// most 1.
    /// </summary>
    public double TargetRecall { get; set; } = DefaultTargetRecall;

    /// <summary>How many of the version's stored vectors are searched for (1-10,000; fewer when the table holds fewer).</summary>
    public int SampleSize { get; set; } = DefaultSampleSize;

    /// <summary>
    /// True: the sampled stored vectors themselves are the queries. False (default): each query is the normalised
    /// midpoint of two sampled stored vectors. A stored vector is a node of the graph, linked at its insertion to its own
    /// neighbours, so the index finds its top-10 far more easily than a query's: on the storage benchmark's 100k × 384
    /// vectors the stored vectors reached recall@10 0.99 at ef_search 10, where fresh queries reached 0.70.
    /// </summary>
    public bool StoredVectorsAsQueries { get; set; }

    /// <summary>The ef_search values tried, ascending, each 1-1000: the smallest that reaches the target is chosen.</summary>
    public IReadOnlyList<int> Ladder { get; set; } = DefaultLadder;

    /// <summary>Throws when a value is out of range, naming it.</summary>
    public void Validate()
    {
        if (!(TargetRecall is > 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(TargetRecall), TargetRecall, "The target recall must be above 0 and at most 1.");
        }

        if (SampleSize is < 1 or > 10_000)
        {
            throw new ArgumentOutOfRangeException(nameof(SampleSize), SampleSize, "The sample must be 1-10,000 queries.");
        }

        if (Ladder is null || Ladder.Count == 0 || Ladder.Any(ef => ef is < 1 or > VectorSearchRequest.MaxK) || !Ladder.Zip(Ladder.Skip(1)).All(p => p.First < p.Second))
        {
            throw new ArgumentException($"The ef_search ladder must be ascending values of 1-{VectorSearchRequest.MaxK} (was {(Ladder is null ? "null" : string.Join(", ", Ladder))}).", nameof(Ladder));
        }
    }
}
