using System.Text.RegularExpressions;

namespace Orleans.Embeddings.Storage.Vectors;

/// <summary>How a version's HNSW index is built.</summary>
public sealed partial class HnswIndexOptions
{
    /// <summary>Default <see cref="M"/> (pgvector's default).</summary>
    public const int DefaultM = 16;

    /// <summary>Default <see cref="EfConstruction"/> (pgvector's default).</summary>
    public const int DefaultEfConstruction = 64;

    /// <summary>Default <see cref="MaintenanceWorkMemory"/>: enough to build a 100k × 384 graph in memory.</summary>
    public const string DefaultMaintenanceWorkMemory = "1GB";

    /// <summary>Default <see cref="MaxParallelMaintenanceWorkers"/>.</summary>
    public const int DefaultMaxParallelMaintenanceWorkers = 2;

    /// <summary>Neighbours per graph node (2-100). Higher: better recall, bigger and slower to build.</summary>
    public int M { get; set; } = DefaultM;

    /// <summary>Candidate list size while building (at least 2 × <see cref="M"/>, at most 1000).</summary>
    public int EfConstruction { get; set; } = DefaultEfConstruction;

    /// <summary>PostgreSQL's maintenance_work_mem for the build, e.g. <c>512MB</c> or <c>2GB</c>.</summary>
    public string MaintenanceWorkMemory { get; set; } = DefaultMaintenanceWorkMemory;

    /// <summary>PostgreSQL's max_parallel_maintenance_workers for the build (0-64).</summary>
    public int MaxParallelMaintenanceWorkers { get; set; } = DefaultMaxParallelMaintenanceWorkers;

    /// <summary>Throws when a value is out of range, naming it.</summary>
    public void Validate()
    {
        if (M is < 2 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(M), M, "HNSW m must be between 2 and 100.");
        }

        if (EfConstruction < 2 * M || EfConstruction > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(EfConstruction), EfConstruction, $"HNSW ef_construction must be between 2 × m ({2 * M}) and 1000.");
        }

        if (MaintenanceWorkMemory is null || !MemoryPattern().IsMatch(MaintenanceWorkMemory))
        {
            throw new ArgumentException($"MaintenanceWorkMemory '{MaintenanceWorkMemory}' must be a size such as 512MB or 2GB.", nameof(MaintenanceWorkMemory));
        }

        if (MaxParallelMaintenanceWorkers is < 0 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxParallelMaintenanceWorkers), MaxParallelMaintenanceWorkers, "Must be between 0 and 64.");
        }
    }

    [GeneratedRegex("^[1-9][0-9]{0,6}(kB|MB|GB)$")]
    private static partial Regex MemoryPattern();
}
