using System.Collections.Concurrent;
using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Search;

/// <summary>
/// This silo's copy of the version catalog for search: a version's table is read once and kept until a search finds it
/// dropped, and read again every <see cref="RefreshInterval"/> so that an ef_search tuned (or re-measured) after it was
/// read reaches this silo's searches. Unknown versions are not remembered, so a version registered later is found on the
/// next call; nor is a binary version before its index fixed its quantization centre.
/// </summary>
public sealed class VersionTableCache(CollectionCatalog catalog)
{
    /// <summary>How long a version read from the catalog is used before it is read again.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<(string Collection, string Version), (VersionTable Table, long Until)> _tables = new();

    /// <summary>The table of (<paramref name="collection"/>, <paramref name="version"/>), or null when the catalog has no such version.</summary>
    public async ValueTask<VersionTable?> GetAsync(string collection, string version, CancellationToken cancellationToken = default)
    {
        if (_tables.TryGetValue((collection, version), out var known) && known.Until > Environment.TickCount64)
        {
            return known.Table;
        }

        var table = await catalog.GetVersionAsync(collection, version, cancellationToken).ConfigureAwait(false);
        // A binary version gets its quantization centre when its index is built; until then it is read again, so that
        // searches use the index's expression as soon as it exists.
        if (table is not null && (table.Quantization != VectorQuantization.Binary || table.QuantizationCenter is not null))
        {
            _tables[(collection, version)] = (table, Environment.TickCount64 + (long)RefreshInterval.TotalMilliseconds);
        }

        return table;
    }

    /// <summary>Forgets a version whose table turned out to be gone.</summary>
    public void Forget(string collection, string version) => _tables.TryRemove((collection, version), out _);
}
