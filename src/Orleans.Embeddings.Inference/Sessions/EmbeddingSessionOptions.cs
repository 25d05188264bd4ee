namespace Orleans.Embeddings.Inference.Sessions;

/// <summary>How an ONNX Runtime session is created.</summary>
public sealed class EmbeddingSessionOptions
{
    /// <summary>Where the session runs. Default: the CPU.</summary>
    public InferenceDevice Device { get; set; } = InferenceDevice.Cpu;

    /// <summary>Threads within one operator on the CPU; 0 lets ONNX Runtime choose (one per core).</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>Threads across independent operators on the CPU; 0 lets ONNX Runtime choose.</summary>
    public int InterOpThreads { get; set; }

    /// <summary>
    /// Whether ONNX Runtime's intra-op threads spin while they wait for work (its default). Spinning shortens each
    /// run a little but burns cores that a process sharing them (a silo with its streams and PostgreSQL beside it)
    /// needs; the indexer turns it off.
    /// </summary>
    public bool AllowSpinning { get; set; } = true;
}
