namespace Orleans.Embeddings.Inference.Builders;

/// <summary>The stages of <see cref="QueryModelDistiller"/>, in the order they run.</summary>
public enum QueryModelDistillationStage
{
    /// <summary>Every vocabulary token embedded alone by the document model: the initial token table.</summary>
    TokenVectors,

    /// <summary>Query-like spans of the corpus embedded by the document model as queries: the targets.</summary>
    QueryTargets,

    /// <summary>The least-squares map of the token table onto the targets.</summary>
    LinearFit,

    /// <summary>Gradient descent on the token vectors themselves, one step per epoch reported.</summary>
    Refinement,
}
