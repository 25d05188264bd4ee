namespace Orleans.Embeddings.Inference.Models;

/// <summary>How token vectors become one text vector.</summary>
public enum PoolingMode
{
    /// <summary>The mean of the token vectors under the attention mask.</summary>
    Mean,

    /// <summary>The first token's vector ([CLS]).</summary>
    Cls,

    /// <summary>The graph already pools: its output is one vector per text.</summary>
    None,
}
