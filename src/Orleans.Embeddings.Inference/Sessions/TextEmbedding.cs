namespace Orleans.Embeddings.Inference.Sessions;

/// <summary>The embedding of one text.</summary>
/// <param name="Vector">The vector (normalised when the model says so).</param>
/// <param name="TokenCount">Tokens fed to the model, [CLS] and [SEP] included.</param>
/// <param name="Truncated">True when the text was longer than the model's limit and its end was not embedded.</param>
public sealed record TextEmbedding(float[] Vector, int TokenCount, bool Truncated);
