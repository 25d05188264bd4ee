namespace Orleans.Embeddings.Indexing;

/// <summary>
/// The key of an embedding worker: <c>collection/version/silo/device</c>. The silo part names the silo that owns
/// the device (a device id is only unique within its silo), so placement can put the worker exactly there.
/// </summary>
[GenerateSerializer, Immutable]
public readonly record struct WorkerKey(
    [property: Id(0)] string Collection,
    [property: Id(1)] string Version,
    [property: Id(2)] string Silo,
    [property: Id(3)] string Device)
{
    /// <summary>The grain key.</summary>
    public override string ToString() => $"{Collection}/{Version}/{Silo}/{Device}";

    /// <summary>Parses a grain key.</summary>
    /// <exception cref="FormatException">The key does not have four parts.</exception>
    public static WorkerKey Parse(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var parts = key.Split('/');
        return parts.Length == 4 && parts.All(p => p.Length > 0)
            ? new WorkerKey(parts[0], parts[1], parts[2], parts[3])
            : throw new FormatException($"'{key}' is not an embedding worker key (collection/version/silo/device).");
    }
}
