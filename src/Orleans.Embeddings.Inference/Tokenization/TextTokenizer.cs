using Orleans.Embeddings.Inference.Models;

namespace Orleans.Embeddings.Inference.Tokenization;

/// <summary>Creates the tokenizer a model folder ships.</summary>
public static class TextTokenizer
{
    /// <summary>WordPiece for <c>vocab.txt</c>, SentencePiece for a <c>*.model</c> file.</summary>
    public static ITextTokenizer Create(EmbeddingModelFolder folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        return folder.Tokenizer == TokenizerKind.SentencePiece ? new SentencePieceTextTokenizer(folder) : new WordPieceTokenizer(folder);
    }
}
