namespace Orleans.Embeddings.Inference.Builders;

/// <summary>One transformer layer: self-attention, its output and LayerNorm, the feed-forward block and its LayerNorm.</summary>
public sealed record EncoderLayerWeights(
    float[] Query, float[] QueryBias,
    float[] Key, float[] KeyBias,
    float[] Value, float[] ValueBias,
    float[] AttentionOutput, float[] AttentionOutputBias,
    float[] AttentionNormScale, float[] AttentionNormBias,
    float[] Intermediate, float[] IntermediateBias,
    float[] Output, float[] OutputBias,
    float[] OutputNormScale, float[] OutputNormBias);
