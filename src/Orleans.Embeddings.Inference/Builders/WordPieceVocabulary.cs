using System.Globalization;
using System.Text;

namespace Orleans.Embeddings.Inference.Builders;

/// <summary>
/// A WordPiece vocabulary made from a corpus: BERT's special tokens, every character alone and as a "##"
/// continuation (so that any text tokenizes), then the most frequent whole words.
/// </summary>
public sealed class WordPieceVocabulary
{
    /// <summary>[PAD], [UNK], [CLS], [SEP], [MASK], in that order at ids 0-4.</summary>
    public static readonly IReadOnlyList<string> SpecialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    private WordPieceVocabulary(IReadOnlyList<string> tokens, IReadOnlyDictionary<string, int> documentFrequency, int documentCount)
    {
        Tokens = tokens;
        DocumentFrequency = documentFrequency;
        DocumentCount = documentCount;
    }

    /// <summary>The tokens; a token's id is its index.</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>In how many documents each whole word occurs.</summary>
    public IReadOnlyDictionary<string, int> DocumentFrequency { get; }

    /// <summary>How many documents the corpus had.</summary>
    public int DocumentCount { get; }

    /// <summary>Builds the vocabulary of <paramref name="documents"/> with at most <paramref name="maxWords"/> whole words.</summary>
    public static WordPieceVocabulary Build(IEnumerable<string> documents, int maxWords)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentOutOfRangeException.ThrowIfNegative(maxWords);
        var documentFrequency = new Dictionary<string, int>(StringComparer.Ordinal);
        var characters = new SortedSet<char>();
        var count = 0;
        foreach (var document in documents)
        {
            count++;
            foreach (var word in Words(document).Distinct(StringComparer.Ordinal))
            {
                documentFrequency[word] = documentFrequency.GetValueOrDefault(word) + 1;
                characters.UnionWith(word);
            }
        }

        var tokens = new List<string>(SpecialTokens);
        tokens.AddRange(characters.Select(c => c.ToString()));
        tokens.AddRange(characters.Select(c => "##" + c));
        var known = tokens.ToHashSet(StringComparer.Ordinal);
        tokens.AddRange(documentFrequency
            .OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => p.Key)
            .Where(known.Add)
            .Take(maxWords));
        return new WordPieceVocabulary(tokens, documentFrequency, count);
    }

    /// <summary>Writes <c>vocab.txt</c>, one token per line.</summary>
    public void Write(string path) => File.WriteAllLines(path, Tokens, new UTF8Encoding(false));

    /// <summary>Lower-cased, accent-free runs of letters and digits: the whole words BERT's basic tokenizer would produce from them.</summary>
    internal static IEnumerable<string> Words(string text)
    {
        var word = new StringBuilder();
        foreach (var c in text.Normalize(NormalizationForm.FormD))
        {
            if (char.IsLetterOrDigit(c))
            {
                word.Append(char.ToLowerInvariant(c));
            }
            else if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark && word.Length > 0)
            {
                yield return word.ToString();
                word.Clear();
            }
        }

        if (word.Length > 0)
        {
            yield return word.ToString();
        }
    }
}
