namespace Orleans.Embeddings.Storage.Routing;

/// <summary>The routing of one collection as stored: the versions live changes go to, the search traffic split, and its epoch.</summary>
/// <param name="Collection">The collection.</param>
/// <param name="Epoch">Increases with every change.</param>
/// <param name="WriteTargets">Versions every live change is written to.</param>
/// <param name="Traffic">Search traffic weights per version, summing to 100.</param>
public sealed record RoutingRecord(string Collection, long Epoch, IReadOnlyList<string> WriteTargets, IReadOnlyDictionary<string, int> Traffic);
