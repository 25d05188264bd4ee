using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Orleans.Embeddings.Indexing;

/// <summary>
/// Sticky assignment of search calls to versions by their routing key: the key's bucket (0-99, from SHA-256, so the
/// same in every process) falls in one version's share of the 100 buckets, the versions taking consecutive ranges in
/// ordinal order of their names. With two versions, raising one's weight only adds buckets to it, so a key that moved
/// to the new version stays there as its share grows.
/// </summary>
public static class TrafficSplit
{
    /// <summary>The bucket (0-99) of <paramref name="routingKey"/>.</summary>
    public static int Bucket(string routingKey)
    {
        ArgumentNullException.ThrowIfNull(routingKey);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(routingKey), hash);
        return (int)(BinaryPrimitives.ReadUInt32BigEndian(hash) % 100);
    }

    /// <summary>The version that serves <paramref name="routingKey"/> under <paramref name="traffic"/> (weights summing to 100).</summary>
    /// <exception cref="InvalidOperationException">No version has traffic.</exception>
    public static string Choose(IReadOnlyDictionary<string, int> traffic, string routingKey) => Choose(traffic, Bucket(routingKey));

    /// <summary>The version whose share of the 100 buckets holds <paramref name="bucket"/> (0-99).</summary>
    /// <exception cref="InvalidOperationException">No version has traffic.</exception>
    public static string Choose(IReadOnlyDictionary<string, int> traffic, int bucket)
    {
        ArgumentNullException.ThrowIfNull(traffic);
        ArgumentOutOfRangeException.ThrowIfNegative(bucket);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bucket, 99);
        var end = 0;
        string? last = null;
        foreach (var (version, weight) in traffic.Where(t => t.Value > 0).OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            end += weight;
            last = version;
            if (bucket < end)
            {
                return version;
            }
        }

        return last ?? throw new InvalidOperationException("No version receives search traffic.");
    }
}
