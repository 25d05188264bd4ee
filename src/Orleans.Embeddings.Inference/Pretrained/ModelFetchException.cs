namespace Orleans.Embeddings.Inference.Pretrained;

/// <summary>A trained model could not be fetched: the message names the package, resource, file or check that failed.</summary>
public sealed class ModelFetchException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ModelFetchException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public ModelFetchException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception without a message.</summary>
    public ModelFetchException()
    {
    }
}
