namespace Orleans.Embeddings.Inference.Builders;

/// <summary>The shape of a BERT-architecture encoder.</summary>
/// <param name="Layers">Transformer layers.</param>
/// <param name="Hidden">Hidden size (the embedding dimensions).</param>
/// <param name="Heads">Attention heads; must divide <paramref name="Hidden"/>.</param>
/// <param name="Intermediate">Feed-forward size.</param>
/// <param name="MaxPositions">Position-embedding table size: the token limit.</param>
public sealed record EncoderConfiguration(int Layers, int Hidden, int Heads, int Intermediate, int MaxPositions)
{
    /// <summary>A few thousand parameters per layer, for tests.</summary>
    public static EncoderConfiguration Tiny { get; } = new(Layers: 2, Hidden: 32, Heads: 4, Intermediate: 64, MaxPositions: 64);

    /// <summary>The shape of all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads, FFN 1536, 512 positions.</summary>
    public static EncoderConfiguration MiniLmL6 { get; } = new(Layers: 6, Hidden: 384, Heads: 12, Intermediate: 1536, MaxPositions: 512);

    /// <summary>Looks a preset up by name: <c>tiny</c> or <c>minilm-l6</c>.</summary>
    /// <exception cref="ArgumentException">Another name.</exception>
    public static EncoderConfiguration FromPreset(string name) => name switch
    {
        "tiny" => Tiny,
        "minilm-l6" => MiniLmL6,
        _ => throw new ArgumentException($"Unknown encoder preset '{name}'; use tiny or minilm-l6.", nameof(name)),
    };

    /// <summary>Per-head size.</summary>
    public int HeadSize => Hidden / Heads;

    /// <summary>Throws when the shape is inconsistent.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Layers, 1, nameof(Layers));
        ArgumentOutOfRangeException.ThrowIfLessThan(Heads, 1, nameof(Heads));
        ArgumentOutOfRangeException.ThrowIfLessThan(Intermediate, 1, nameof(Intermediate));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPositions, 3, nameof(MaxPositions));
        if (Hidden < 1 || Hidden % Heads != 0)
        {
            throw new ArgumentException($"Hidden size {Hidden} must be a positive multiple of the head count {Heads}.", nameof(Hidden));
        }
    }
}
