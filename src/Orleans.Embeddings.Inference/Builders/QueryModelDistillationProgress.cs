namespace Orleans.Embeddings.Inference.Builders;

/// <summary>How far a <see cref="QueryModelDistiller"/> run is.</summary>
/// <param name="Stage">The stage running.</param>
/// <param name="Completed">Units of the stage done (tokens, queries, epochs).</param>
/// <param name="Total">Units of the stage in all.</param>
public readonly record struct QueryModelDistillationProgress(QueryModelDistillationStage Stage, int Completed, int Total);
