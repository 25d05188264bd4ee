namespace Orleans.Embeddings.Diagnostics;

/// <summary>Names under which the indexer publishes its telemetry.</summary>
public static class EmbeddingsTelemetry
{
    /// <summary>The one <see cref="System.Diagnostics.Metrics.Meter"/> name for every instrument of the indexer.</summary>
    public const string MeterName = "Orleans.Embeddings";

    /// <summary>The meter every instrument of the indexer is created on.</summary>
    internal static readonly System.Diagnostics.Metrics.Meter Meter = new(MeterName);

    /// <summary>The meter Orleans itself publishes its runtime instruments on.</summary>
    public const string OrleansMeterName = "Microsoft.Orleans";
}
