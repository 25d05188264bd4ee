namespace Orleans.Embeddings.Inference.Builders;

/// <summary>
/// The weights of a BERT-architecture encoder, row-major, matrices stored [in, out] as ONNX MatMul takes
/// them. Seeded random (N(0, 0.02) like BERT's initialisation; LayerNorm scales 1, biases 0): compute-realistic,
/// not trained.
/// </summary>
public sealed class EncoderWeights
{
    private EncoderWeights(EncoderConfiguration configuration, int vocabularySize)
    {
        Configuration = configuration;
        VocabularySize = vocabularySize;
    }

    /// <summary>The shape.</summary>
    public EncoderConfiguration Configuration { get; }

    /// <summary>Rows of the word-embedding table.</summary>
    public int VocabularySize { get; }

    /// <summary>[vocabulary, hidden]</summary>
    public float[] WordEmbeddings { get; private init; } = [];

    /// <summary>[positions, hidden]</summary>
    public float[] PositionEmbeddings { get; private init; } = [];

    /// <summary>[2, hidden]</summary>
    public float[] TokenTypeEmbeddings { get; private init; } = [];

    /// <summary>Embedding LayerNorm scale and bias, [hidden] each.</summary>
    public (float[] Scale, float[] Bias) EmbeddingNorm { get; private init; }

    /// <summary>One entry per layer.</summary>
    public IReadOnlyList<EncoderLayerWeights> Layers { get; private init; } = [];

    /// <summary>Draws every weight from a generator seeded with <paramref name="seed"/>.</summary>
    public static EncoderWeights CreateRandom(EncoderConfiguration configuration, int vocabularySize, int seed)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        configuration.Validate();
        var random = new Random(seed);
        var h = configuration.Hidden;
        var i = configuration.Intermediate;
        return new EncoderWeights(configuration, vocabularySize)
        {
            WordEmbeddings = Normal(random, vocabularySize * h),
            PositionEmbeddings = Normal(random, configuration.MaxPositions * h),
            TokenTypeEmbeddings = Normal(random, 2 * h),
            EmbeddingNorm = (Filled(h, 1), new float[h]),
            Layers = [.. Enumerable.Range(0, configuration.Layers).Select(_ => new EncoderLayerWeights(
                Normal(random, h * h), new float[h],
                Normal(random, h * h), new float[h],
                Normal(random, h * h), new float[h],
                Normal(random, h * h), new float[h],
                Filled(h, 1), new float[h],
                Normal(random, h * i), new float[i],
                Normal(random, i * h), new float[h],
                Filled(h, 1), new float[h]))],
        };
    }

    private static float[] Normal(Random random, int count)
    {
        var values = new float[count];
        for (var k = 0; k < count; k++)
        {
            values[k] = (float)(0.02 * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        }

        return values;
    }

    private static float[] Filled(int count, float value)
    {
        var values = new float[count];
        Array.Fill(values, value);
        return values;
    }
}
