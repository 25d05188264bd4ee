using System.Globalization;

namespace Orleans.Embeddings.Inference.Sessions;

/// <summary>Where a session runs: <c>cpu</c> or <c>cuda:N</c>.</summary>
public sealed record InferenceDevice
{
    private InferenceDevice(string name, int? cudaIndex)
    {
        Name = name;
        CudaIndex = cudaIndex;
    }

    /// <summary>The CPU.</summary>
    public static InferenceDevice Cpu { get; } = new("cpu", null);

    /// <summary>The device name as configured (<c>cpu</c>, <c>cuda:0</c>, …).</summary>
    public string Name { get; }

    /// <summary>The CUDA device index, or null for the CPU.</summary>
    public int? CudaIndex { get; }

    /// <summary>Parses <c>cpu</c> or <c>cuda:N</c>.</summary>
    /// <exception cref="FormatException">Anything else.</exception>
    public static InferenceDevice Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name == "cpu")
        {
            return Cpu;
        }

        if (name.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(name.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
        {
            return new InferenceDevice(name, index);
        }

        throw new FormatException($"Device '{name}' must be 'cpu' or 'cuda:N' (N = 0, 1, …).");
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
