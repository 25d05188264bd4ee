using Orleans.Embeddings.Inference.Models;

namespace Orleans.Embeddings.Inference.Tokenization;

/// <summary>Creates the tokenizer a model folder ships, in the folder's <see cref="EmbeddingModelFolder.TokenizerRevision"/>.</summary>
public static class TextTokenizer
{
    /// <summary>
    /// SentencePiece for a <c>*.model</c> file; for <c>vocab.txt</c>, Hugging Face's exact BERT tokenization
    /// (<see cref="TokenizerRevision.BertHf"/>) or, for versions registered with it, Microsoft.ML.Tokenizers 2.0's
    /// (<see cref="TokenizerRevision.MlTokenizersBert20"/>).
    /// </summary>
    /// <exception cref="ModelFolderException">The tokenizer file is unusable, or the revision is not one for the folder's kind of tokenizer.</exception>
    public static ITextTokenizer Create(EmbeddingModelFolder folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        return (folder.Tokenizer, folder.TokenizerRevision) switch
        {
            (TokenizerKind.SentencePiece, TokenizerRevision.SentencePiece) => new SentencePieceTextTokenizer(folder),
            (TokenizerKind.WordPiece, TokenizerRevision.BertHf) => new BertWordPieceTokenizer(folder),
            (TokenizerKind.WordPiece, TokenizerRevision.MlTokenizersBert20) => new MlTokenizersBertTokenizer(folder),
            var (kind, revision) => throw new ModelFolderException(
                $"Model folder '{folder.Directory}' has a {kind} tokenizer ({folder.TokenizerPath}), which cannot be run as tokenizer revision {revision.ToName()}."),
        };
    }
}
