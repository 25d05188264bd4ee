namespace Orleans.Embeddings.Inference.Tokenization;

/// <summary>
/// Which implementation turns a model folder's text into token ids. A model version keeps the revision it was
/// registered with for its whole life: its table was embedded with it, so its queries must be tokenized the same way
/// (DESIGN invariant 4), even after a newer, more exact tokenizer ships.
/// </summary>
public enum TokenizerRevision
{
    /// <summary>
    /// BERT WordPiece exactly as Hugging Face's tokenizers do it (<c>bert-hf</c>): <see cref="BertWordPieceTokenizer"/>.
    /// The revision of every WordPiece version registered from now on.
    /// </summary>
    BertHf,

    /// <summary>
    /// BERT WordPiece as Microsoft.ML.Tokenizers 2.0's BertTokenizer does it (<c>mltokenizers-bert-2.0</c>):
    /// <see cref="MlTokenizersBertTokenizer"/>. The revision of WordPiece versions registered before <see cref="BertHf"/>.
    /// </summary>
    MlTokenizersBert20,

    /// <summary>SentencePiece (<c>sentencepiece</c>): <see cref="SentencePieceTextTokenizer"/>.</summary>
    SentencePiece,
}
