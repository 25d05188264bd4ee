namespace Orleans.Embeddings.Inference.Builders;

/// <summary>How well a query model agrees with its document model on held-out query-like spans.</summary>
/// <param name="MeanCosine">The mean cosine between the query model's vector of a span and the document model's (as a query).</param>
/// <param name="NearestAgreement">
/// The share of spans whose query-model vector is nearer to the document model's vector of the same span than to that
/// of any other held-out span: 1 when the query model tells the spans apart as the document model does.
/// </param>
public readonly record struct QueryModelAgreement(double MeanCosine, double NearestAgreement);
