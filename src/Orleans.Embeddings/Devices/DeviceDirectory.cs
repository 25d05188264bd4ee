using Microsoft.Extensions.Options;
using Orleans.Embeddings.Hosting;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Orleans.Embeddings.Devices;

/// <summary>A device of the cluster: the silo that owns it (by name and address) and its id there.</summary>
public sealed record ClusterDevice(string Silo, SiloAddress Address, string Device);

/// <summary>
/// Which active silo owns which devices: membership gives the active silos and their names, silo metadata
/// (<see cref="MetadataKey"/>) the devices each one declared. This silo's own devices come from its options.
/// </summary>
public sealed class DeviceDirectory(
    IClusterMembershipService membership, ISiloMetadataCache metadata, ILocalSiloDetails localSilo, IOptions<IndexerOptions> options)
{
    /// <summary>The silo metadata key holding a silo's devices, comma-separated.</summary>
    public const string MetadataKey = "embeddings.devices";

    /// <summary>This silo's name, as worker keys carry it.</summary>
    public string LocalSilo => localSilo.Name;

    /// <summary>Every device of every active silo, this silo's first.</summary>
    public IReadOnlyList<ClusterDevice> ActiveDevices()
    {
        var devices = new List<ClusterDevice>();
        foreach (var member in membership.CurrentSnapshot.Members.Values)
        {
            if (member.Status != SiloStatus.Active)
            {
                continue;
            }

            foreach (var device in DevicesOf(member.SiloAddress))
            {
                devices.Add(new ClusterDevice(member.Name, member.SiloAddress, device));
            }
        }

        devices.Sort((a, b) => (a.Address.Equals(localSilo.SiloAddress) ? 0 : 1).CompareTo(b.Address.Equals(localSilo.SiloAddress) ? 0 : 1));
        return devices;
    }

    /// <summary>The names of the active silos: every one of them must acknowledge a routing epoch.</summary>
    public IReadOnlyList<string> ActiveSiloNames() =>
        [.. membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.Name).Order(StringComparer.Ordinal)];

    /// <summary>The address of the active silo named <paramref name="silo"/> if it owns <paramref name="device"/>.</summary>
    public SiloAddress? FindOwner(string silo, string device)
    {
        foreach (var member in membership.CurrentSnapshot.Members.Values)
        {
            if (member.Status == SiloStatus.Active && member.Name == silo && DevicesOf(member.SiloAddress).Contains(device))
            {
                return member.SiloAddress;
            }
        }

        return null;
    }

    private IReadOnlyList<string> DevicesOf(SiloAddress address)
    {
        if (address.Equals(localSilo.SiloAddress))
        {
            return options.Value.EffectiveDevices;
        }

        return metadata.GetSiloMetadata(address).Metadata.TryGetValue(MetadataKey, out var value)
            ? value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : [];
    }
}
