namespace Orleans.Embeddings.Inference.Models;

/// <summary>A model folder that cannot be used: the message names the file and what is wrong with it.</summary>
public sealed class ModelFolderException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ModelFolderException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public ModelFolderException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception without a message.</summary>
    public ModelFolderException()
    {
    }
}
