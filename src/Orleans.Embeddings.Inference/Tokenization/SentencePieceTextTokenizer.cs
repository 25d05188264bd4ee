using Microsoft.ML.Tokenizers;
using Orleans.Embeddings.Inference.Models;

namespace Orleans.Embeddings.Inference.Tokenization;

/// <summary>
/// SentencePiece tokenization (Microsoft.ML.Tokenizers) with the model's begin and end markers added and
/// truncation to the folder's token limit reported.
/// </summary>
public sealed class SentencePieceTextTokenizer : ITextTokenizer
{
    private readonly SentencePieceTokenizer _tokenizer;
    private readonly int _maxTokens;

    /// <summary>Loads the SentencePiece model of <paramref name="folder"/>.</summary>
    /// <exception cref="ModelFolderException">The model file cannot be read.</exception>
    public SentencePieceTextTokenizer(EmbeddingModelFolder folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        try
        {
            using var stream = File.OpenRead(folder.TokenizerPath);
            _tokenizer = SentencePieceTokenizer.Create(stream, true, true);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FormatException or IOException or NotSupportedException or Google.Protobuf.InvalidProtocolBufferException)
        {
            throw new ModelFolderException($"{folder.TokenizerPath} is not a usable SentencePiece model: {ex.Message}", ex);
        }

        _maxTokens = folder.MaxTokens;
        PaddingId = _tokenizer.Vocabulary.TryGetValue("<pad>", out var pad) ? pad : _tokenizer.UnknownId;
    }

    /// <inheritdoc />
    public int PaddingId { get; }

    /// <inheritdoc />
    public TokenizedText Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = _tokenizer.EncodeToIds(text, addBeginningOfSentence: true, addEndOfSentence: true, _maxTokens, out _, out _);
        // At the limit, one more encoding without it tells whether anything was cut.
        var truncated = ids.Count >= _maxTokens && _tokenizer.EncodeToIds(text, addBeginningOfSentence: true, addEndOfSentence: true).Count > ids.Count;
        return new TokenizedText([.. ids], truncated);
    }
}
