namespace Orleans.Embeddings.Inference.Tokenization;

/// <summary>The names a <see cref="TokenizerRevision"/> is stored and shown under (the version catalog, <c>models list</c>).</summary>
public static class TokenizerRevisionNames
{
    /// <summary>The name of <see cref="TokenizerRevision.BertHf"/>.</summary>
    public const string BertHf = "bert-hf";

    /// <summary>The name of <see cref="TokenizerRevision.MlTokenizersBert20"/>.</summary>
    public const string MlTokenizersBert20 = "mltokenizers-bert-2.0";

    /// <summary>The name of <see cref="TokenizerRevision.SentencePiece"/>.</summary>
    public const string SentencePiece = "sentencepiece";

    /// <summary>The stored name of <paramref name="revision"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined revision.</exception>
    public static string ToName(this TokenizerRevision revision) => revision switch
    {
        TokenizerRevision.BertHf => BertHf,
        TokenizerRevision.MlTokenizersBert20 => MlTokenizersBert20,
        TokenizerRevision.SentencePiece => SentencePiece,
        _ => throw new ArgumentOutOfRangeException(nameof(revision), revision, "Not a tokenizer revision."),
    };

    /// <summary>The revision stored as <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">The name is none of the revisions; the message lists them.</exception>
    public static TokenizerRevision Parse(string name) => name switch
    {
        BertHf => TokenizerRevision.BertHf,
        MlTokenizersBert20 => TokenizerRevision.MlTokenizersBert20,
        SentencePiece => TokenizerRevision.SentencePiece,
        _ => throw new ArgumentException($"'{name}' is not a tokenizer revision; known: {BertHf}, {MlTokenizersBert20}, {SentencePiece}.", nameof(name)),
    };
}
