namespace Orleans.Embeddings.Inference.Tokenization;

/// <summary>The token ids of one text, [CLS] and [SEP] included.</summary>
/// <param name="Ids">The ids.</param>
/// <param name="Truncated">True when the text was longer than the model's token limit and its end was cut.</param>
public readonly record struct TokenizedText(int[] Ids, bool Truncated);
