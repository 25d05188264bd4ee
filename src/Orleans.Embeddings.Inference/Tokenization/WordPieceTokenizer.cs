using Microsoft.ML.Tokenizers;
using Orleans.Embeddings.Inference.Models;

namespace Orleans.Embeddings.Inference.Tokenization;

/// <summary>
/// BERT's WordPiece tokenization (Microsoft.ML.Tokenizers) with the folder's casing, [CLS]/[SEP] added and
/// truncation to the model's token limit reported, never silent.
/// </summary>
public sealed class WordPieceTokenizer : ITextTokenizer
{
    private readonly BertTokenizer _tokenizer;
    private readonly int _maxTokens;

    /// <summary>Loads the vocabulary of <paramref name="folder"/>.</summary>
    /// <exception cref="ModelFolderException">The vocabulary cannot be read or lacks BERT's special tokens.</exception>
    public WordPieceTokenizer(EmbeddingModelFolder folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        try
        {
            _tokenizer = BertTokenizer.Create(folder.TokenizerPath, new BertOptions { LowerCaseBeforeTokenization = folder.LowerCase, RemoveNonSpacingMarks = folder.StripAccents });
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FormatException or IOException)
        {
            throw new ModelFolderException($"{folder.TokenizerPath} is not a usable WordPiece vocabulary: {ex.Message}", ex);
        }

        _maxTokens = folder.MaxTokens;
    }

    /// <inheritdoc />
    public int PaddingId => _tokenizer.PaddingTokenId;

    /// <inheritdoc />
    public TokenizedText Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = _tokenizer.EncodeToIds(text, _maxTokens, addSpecialTokens: true, out _, out var consumed);
        var truncated = consumed < text.Length && !string.IsNullOrWhiteSpace(text[consumed..]);
        return new TokenizedText([.. ids], truncated);
    }
}
