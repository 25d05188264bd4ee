using System.Buffers;
using System.Globalization;
using System.Text;
using Orleans.Embeddings.Inference.Models;

namespace Orleans.Embeddings.Inference.Tokenization;

/// <summary>
/// BERT's tokenization exactly as Hugging Face's tokenizers do it (<see cref="TokenizerRevision.BertHf"/>), so that a
/// sentence-transformers model sees the ids it was trained on: the special tokens written in the text are kept whole;
/// <c>BertNormalizer</c> (control characters, U+0000 and U+FFFD dropped, every whitespace a space, spaces around CJK
/// ideographs, accents stripped by NFD when lower-casing, lower case); <c>BertPreTokenizer</c> (words split at
/// whitespace, every punctuation character a word of its own: ASCII's non-alphanumerics and Unicode's P*); WordPiece
/// (greedy longest match first, <c>##</c> continuations, [UNK] for a word that cannot be pieced or is longer than
/// <see cref="MaxInputCharsPerWord"/> characters); then <c>[CLS] … [SEP]</c>, cut to the folder's token limit.
/// </summary>
/// <remarks>
/// One pass over the text with no allocation per word or piece: the vocabulary is looked up by span, pieces after
/// <c>##</c> in a second table keyed without it, and the text stops being read once the token limit is exceeded. Only
/// a text with non-ASCII characters to strip accents from is copied once (its NFD form).
/// Where Transformers.js departs from Hugging Face's Rust tokenizers, this follows the Rust ones: code points outside
/// the Basic Multilingual Plane are CJK ideographs too (Transformers.js tests UTF-16 units), unassigned code points are
/// dropped as control characters, and a capital sigma lower-cases to σ wherever it stands (character by character).
/// </remarks>
public sealed class BertWordPieceTokenizer : ITextTokenizer
{
    /// <summary>A word of more characters (code points, after normalisation) becomes a single [UNK], as in BERT.</summary>
    public const int MaxInputCharsPerWord = 100;

    private const string ContinuingSubwordPrefix = "##";

    // BERT's special tokens, matched in the raw text before normalisation (Hugging Face's added tokens, normalized: false).
    private static readonly string[] s_specialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _wordStarts;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _continuations;
    private readonly (string Token, int Id)[] _specials;
    private readonly int _longestWordStart;
    private readonly int _longestContinuation;
    private readonly bool _lowerCase;
    private readonly bool _stripAccents;
    private readonly int _maxTokens;
    private readonly int _cls;
    private readonly int _sep;
    private readonly int _unknown;

    /// <summary>Loads the vocabulary of <paramref name="folder"/> with its casing and token limit.</summary>
    /// <exception cref="ModelFolderException">The vocabulary cannot be read or lacks [CLS], [SEP] or [UNK].</exception>
    public BertWordPieceTokenizer(EmbeddingModelFolder folder)
        : this(ReadVocabulary(folder), folder.LowerCase, folder.StripAccents, folder.MaxTokens, folder.TokenizerPath)
    {
    }

    /// <summary>A tokenizer over <paramref name="vocabulary"/> (a token's id is its index, as in <c>vocab.txt</c>).</summary>
    /// <param name="vocabulary">The tokens; continuation pieces start with <c>##</c>.</param>
    /// <param name="lowerCase">Lower-case the text (<c>do_lower_case</c>).</param>
    /// <param name="stripAccents">Remove accents (NFD, then nonspacing marks dropped).</param>
    /// <param name="maxTokens">The most ids per text, [CLS] and [SEP] included (at least 2).</param>
    /// <exception cref="ModelFolderException">The vocabulary lacks [CLS], [SEP] or [UNK].</exception>
    public BertWordPieceTokenizer(IReadOnlyList<string> vocabulary, bool lowerCase, bool stripAccents, int maxTokens)
        : this(vocabulary, lowerCase, stripAccents, maxTokens, "the vocabulary")
    {
    }

    private BertWordPieceTokenizer(IReadOnlyList<string> vocabulary, bool lowerCase, bool stripAccents, int maxTokens, string source)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 2);
        var wordStarts = new Dictionary<string, int>(vocabulary.Count, StringComparer.Ordinal);
        var continuations = new Dictionary<string, int>(vocabulary.Count / 4, StringComparer.Ordinal);
        for (var id = 0; id < vocabulary.Count; id++)
        {
            var token = vocabulary[id];
            // A token listed twice has its last id, as when Hugging Face reads a vocab.txt into a map.
            if (token.StartsWith(ContinuingSubwordPrefix, StringComparison.Ordinal) && token.Length > ContinuingSubwordPrefix.Length)
            {
                var piece = token[ContinuingSubwordPrefix.Length..];
                continuations[piece] = id;
                _longestContinuation = Math.Max(_longestContinuation, piece.Length);
            }

            wordStarts[token] = id;
            _longestWordStart = Math.Max(_longestWordStart, token.Length);
        }

        int Required(string token) => wordStarts.TryGetValue(token, out var id)
            ? id
            : throw new ModelFolderException($"{source} is not a usable WordPiece vocabulary: it has no {token} token.");
        _cls = Required("[CLS]");
        _sep = Required("[SEP]");
        _unknown = Required("[UNK]");
        PaddingId = wordStarts.GetValueOrDefault("[PAD]", 0);
        _specials = [.. s_specialTokens.Where(wordStarts.ContainsKey).Select(t => (t, wordStarts[t]))];
        _wordStarts = wordStarts.GetAlternateLookup<ReadOnlySpan<char>>();
        _continuations = continuations.GetAlternateLookup<ReadOnlySpan<char>>();
        _lowerCase = lowerCase;
        _stripAccents = stripAccents;
        _maxTokens = maxTokens;
    }

    /// <inheritdoc />
    public int PaddingId { get; }

    /// <inheritdoc />
    public TokenizedText Tokenize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var source = _stripAccents ? Decompose(text) : text;
        var limit = _maxTokens - 2;
        // Room for one word's pieces past the limit: a word is pieced whole before it is known whether it fits.
        var ids = ArrayPool<int>.Shared.Rent(limit + MaxInputCharsPerWord + 2);
        try
        {
            var word = new WordBuffer(stackalloc char[2 * (MaxInputCharsPerWord + 1) + 2]);
            Span<char> alone = stackalloc char[2];
            var count = 0;
            var i = 0;
            while (i < source.Length && count <= limit)
            {
                var c = source[i];
                if (c < 0x80)
                {
                    i++;
                    if (char.IsAsciiLetterOrDigit(c))
                    {
                        word.Append(_lowerCase ? (char)(c | (char.IsAsciiLetterUpper(c) ? 0x20 : 0)) : c);
                    }
                    else if (c is ' ' or '\t' or '\n' or '\r')
                    {
                        count = Flush(ref word, ids, count);
                    }
                    else if (c is >= ' ' and not '\x7f')
                    {
                        // Every other printable ASCII character is punctuation to BERT, a word of its own;
                        // but a special token written in the text ([SEP]...) stays one token.
                        count = Flush(ref word, ids, count);
                        if (c == '[' && MatchSpecial(source.AsSpan(i - 1)) is (var length, var special))
                        {
                            ids[count++] = special;
                            i += length - 1;
                        }
                        else
                        {
                            count = Piece(new ReadOnlySpan<char>(in c), ids, count);
                        }
                    }

                    // The other ASCII controls are dropped without splitting the word around them (clean_text).
                    continue;
                }

                if (Rune.DecodeFromUtf16(source.AsSpan(i), out var rune, out var consumed) != OperationStatus.Done)
                {
                    i += consumed; // a lone surrogate (category Cs) is dropped like a control character
                    continue;
                }

                i += consumed;
                var category = Rune.GetUnicodeCategory(rune);
                if (rune.Value == 0xFFFD || category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned)
                {
                    continue;
                }

                if (Rune.IsWhiteSpace(rune))
                {
                    count = Flush(ref word, ids, count);
                }
                else if (IsCjkIdeograph(rune.Value) || IsPunctuation(category))
                {
                    count = Flush(ref word, ids, count);
                    count = Piece(alone[..rune.EncodeToUtf16(alone)], ids, count);
                }
                else if (!(_stripAccents && category == UnicodeCategory.NonSpacingMark))
                {
                    if (!_lowerCase)
                    {
                        word.Append(rune);
                    }
                    else if (rune.Value == 0x130)
                    {
                        // İ lower-cases to two code points (SpecialCasing); reached only without accent stripping,
                        // which decomposes it first.
                        word.Append(new Rune('i'));
                        word.Append(new Rune(0x307));
                    }
                    else
                    {
                        word.Append(Rune.ToLowerInvariant(rune));
                    }
                }
            }

            if (count <= limit)
            {
                count = Flush(ref word, ids, count);
            }

            var truncated = count > limit;
            count = Math.Min(count, limit);
            var result = new int[count + 2];
            result[0] = _cls;
            ids.AsSpan(0, count).CopyTo(result.AsSpan(1));
            result[^1] = _sep;
            return new TokenizedText(result, truncated);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(ids);
        }
    }

    private static string Decompose(string text)
    {
        if (Ascii.IsValid(text))
        {
            return text;
        }

        try
        {
            return text.Normalize(NormalizationForm.FormD);
        }
        catch (ArgumentException)
        {
            // Lone surrogates make the text invalid UTF-16; they are dropped by normalisation anyway.
            return RemoveLoneSurrogates(text).Normalize(NormalizationForm.FormD);
        }
    }

    private static string RemoveLoneSurrogates(string text)
    {
        var builder = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                builder.Append(text, i++, 2);
            }
            else if (!char.IsSurrogate(text[i]))
            {
                builder.Append(text[i]);
            }
        }

        return builder.ToString();
    }

    private (int Length, int Id)? MatchSpecial(ReadOnlySpan<char> text)
    {
        foreach (var (token, id) in _specials)
        {
            if (text.StartsWith(token, StringComparison.Ordinal))
            {
                return (token.Length, id);
            }
        }

        return null;
    }

    private int Flush(ref WordBuffer word, int[] ids, int count)
    {
        if (word.CodePoints == 0)
        {
            return count;
        }

        count = word.CodePoints > MaxInputCharsPerWord ? Unknown(ids, count) : Piece(word.Chars, ids, count);
        word.Clear();
        return count;
    }

    private int Unknown(int[] ids, int count)
    {
        ids[count] = _unknown;
        return count + 1;
    }

    // WordPiece: the longest vocabulary entry at each position, "##"-continued after the first; a word with a position
    // that no entry starts is a single [UNK].
    private int Piece(ReadOnlySpan<char> word, int[] ids, int count)
    {
        var first = count;
        var start = 0;
        while (start < word.Length)
        {
            var lookup = start == 0 ? _wordStarts : _continuations;
            var end = Math.Min(word.Length, start + (start == 0 ? _longestWordStart : _longestContinuation));
            var found = false;
            for (; end > start; end--)
            {
                // Never between the two halves of a surrogate pair (no entry ends there).
                if (end < word.Length && char.IsLowSurrogate(word[end]) && char.IsHighSurrogate(word[end - 1]))
                {
                    continue;
                }

                if (lookup.TryGetValue(word[start..end], out var id))
                {
                    ids[count++] = id;
                    found = true;
                    break;
                }
            }

            if (!found)
            {
                return Unknown(ids, first);
            }

            start = end;
        }

        return count;
    }

    private static bool IsPunctuation(UnicodeCategory category) => category is UnicodeCategory.ConnectorPunctuation
        or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation
        or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;

    // The CJK Unified Ideographs blocks BERT puts spaces around (its "Chinese characters"; not Hangul, Hiragana or Katakana).
    private static bool IsCjkIdeograph(int c) =>
        c is (>= 0x4E00 and <= 0x9FFF) or (>= 0x3400 and <= 0x4DBF) or (>= 0x20000 and <= 0x2A6DF) or (>= 0x2A700 and <= 0x2B73F)
            or (>= 0x2B740 and <= 0x2B81F) or (>= 0x2B820 and <= 0x2CEAF) or (>= 0xF900 and <= 0xFAFF) or (>= 0x2F800 and <= 0x2FA1F);

    private static string[] ReadVocabulary(EmbeddingModelFolder folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        try
        {
            // One token per line; a trailing line break ends the last token rather than adding an empty one.
            var lines = File.ReadAllLines(folder.TokenizerPath);
            for (var i = 0; i < lines.Length; i++)
            {
                lines[i] = lines[i].TrimEnd('\r', ' ');
            }

            return lines;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelFolderException($"{folder.TokenizerPath} is not a usable WordPiece vocabulary: {ex.Message}", ex);
        }
    }

    /// <summary>The characters of the word being read, up to one past the longest a word may be (it then becomes [UNK]).</summary>
    private ref struct WordBuffer(Span<char> chars)
    {
        private readonly Span<char> _chars = chars;
        private int _length;

        public int CodePoints { get; private set; }

        public readonly ReadOnlySpan<char> Chars => _chars[.._length];

        public void Append(char c)
        {
            if (++CodePoints <= MaxInputCharsPerWord)
            {
                _chars[_length++] = c;
            }
        }

        public void Append(Rune rune)
        {
            if (++CodePoints <= MaxInputCharsPerWord)
            {
                _length += rune.EncodeToUtf16(_chars[_length..]);
            }
        }

        public void Clear() => _length = CodePoints = 0;
    }
}
