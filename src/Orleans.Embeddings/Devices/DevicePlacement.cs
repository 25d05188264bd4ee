using Orleans.Embeddings.Indexing;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Orleans.Embeddings.Devices;

/// <summary>Places a grain keyed by <see cref="WorkerKey"/> on the silo that owns the key's device.</summary>
[GenerateSerializer, Immutable, Serializable]
public sealed class DevicePlacement : PlacementStrategy
{
    /// <summary>The one instance.</summary>
    public static DevicePlacement Instance { get; } = new();
}

/// <summary>Marks a grain class for <see cref="DevicePlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class DevicePlacementAttribute() : PlacementAttribute(DevicePlacement.Instance);

/// <summary>
/// Activates a worker only on the silo named in its key, and only while that silo is active and declares the
/// device; otherwise the activation fails, and the caller retries on another worker.
/// </summary>
internal sealed class DevicePlacementDirector(DeviceDirectory devices) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = WorkerKey.Parse(target.GrainIdentity.Key.ToString()!);
        var owner = devices.FindOwner(key.Silo, key.Device)
            ?? throw new OrleansException($"No active silo named {key.Silo} owns device {key.Device} (worker {key}); it may have left the cluster.");
        if (!context.GetCompatibleSilos(target).Contains(owner))
        {
            throw new OrleansException($"Silo {key.Silo} ({owner}) cannot host embedding worker {key}.");
        }

        return Task.FromResult(owner);
    }
}
