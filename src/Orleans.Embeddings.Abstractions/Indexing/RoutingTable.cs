using System.Collections.Immutable;

namespace Orleans.Embeddings.Indexing;

/// <summary>Where a collection's live changes are written and how its search traffic is split, at one epoch.</summary>
/// <param name="Collection">The collection.</param>
/// <param name="Epoch">Increases with every change; silos acknowledge the epoch they route by.</param>
/// <param name="WriteTargets">The versions every live change is written to.</param>
/// <param name="Traffic">Search traffic weight per version (summing to 100).</param>
[GenerateSerializer, Immutable]
public sealed record RoutingTable(
    [property: Id(0)] string Collection,
    [property: Id(1)] long Epoch,
    [property: Id(2)] ImmutableArray<string> WriteTargets,
    [property: Id(3)] ImmutableDictionary<string, int> Traffic);
