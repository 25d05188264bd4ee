using Microsoft.ML.Tokenizers;
using Orleans.Embeddings.Inference.Models;

namespace Orleans.Embeddings.Inference.Tokenization;

/// <summary>
/// BERT's WordPiece tokenization as Microsoft.ML.Tokenizers 2.0's <see cref="BertTokenizer"/> does it, with the folder's
/// casing, [CLS]/[SEP] added and truncation to the model's token limit reported, never silent. It differs from Hugging
/// Face's (it deletes tabs and line breaks, joining the words around them, and drops symbols such as <c>$ + = &lt; &gt; |</c>;
/// dotnet/machinelearning#7724 and #7725), so it is kept only for versions registered with it
/// (<see cref="TokenizerRevision.MlTokenizersBert20"/>): their tables were embedded with it, and their queries must be too.
/// New versions use <see cref="BertWordPieceTokenizer"/>.
/// </summary>
public sealed class MlTokenizersBertTokenizer : ITextTokenizer
{
    private readonly BertTokenizer _tokenizer;
    private readonly int _maxTokens;

    /// <summary>Loads the vocabulary of <paramref name="folder"/>.</summary>
    /// <exception cref="ModelFolderException">The vocabulary cannot be read or lacks BERT's special tokens.</exception>
    public MlTokenizersBertTokenizer(EmbeddingModelFolder folder)
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
