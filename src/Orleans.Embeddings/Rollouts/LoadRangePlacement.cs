using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Orleans.Embeddings.Rollouts;

/// <summary>
/// Spreads the shard ranges of a load over the silos: range <c>i</c> goes to the <c>i mod n</c>-th compatible silo (by
/// address), so every silo's device works on the load and a lost silo's ranges move to the others.
/// </summary>
[GenerateSerializer, Immutable, Serializable]
public sealed class LoadRangePlacement : PlacementStrategy
{
    /// <summary>The one instance.</summary>
    public static LoadRangePlacement Instance { get; } = new();
}

/// <summary>Marks a grain class keyed by <see cref="LoadAssignment.GrainKey"/> for <see cref="LoadRangePlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class LoadRangePlacementAttribute() : PlacementAttribute(LoadRangePlacement.Instance);

internal sealed class LoadRangePlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target).OrderBy(s => s.ToString(), StringComparer.Ordinal).ToArray();
        if (silos.Length == 0)
        {
            throw new OrleansException($"No silo can host load range {target.GrainIdentity}.");
        }

        var key = target.GrainIdentity.Key.ToString()!;
        var range = int.TryParse(key[(key.LastIndexOf('/') + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed) ? parsed : 0;
        return Task.FromResult(silos[range % silos.Length]);
    }
}
