namespace Orleans.Embeddings.Inference.Tokenization;

/// <summary>The tokenizer a model folder ships.</summary>
public enum TokenizerKind
{
    /// <summary>BERT WordPiece: <c>vocab.txt</c>.</summary>
    WordPiece,

    /// <summary>SentencePiece: a <c>*.model</c> file (sentencepiece.bpe.model, spiece.model, tokenizer.model).</summary>
    SentencePiece,
}
