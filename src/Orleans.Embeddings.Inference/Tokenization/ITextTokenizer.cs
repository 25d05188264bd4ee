namespace Orleans.Embeddings.Inference.Tokenization;

/// <summary>Turns text into the token ids a model folder's graph expects, with its special tokens, cut to its token limit.</summary>
public interface ITextTokenizer
{
    /// <summary>The id used for padding positions (masked out, so its value never reaches a vector).</summary>
    int PaddingId { get; }

    /// <summary>Tokenizes <paramref name="text"/>, reporting whether it was cut to the token limit.</summary>
    TokenizedText Tokenize(string text);
}
