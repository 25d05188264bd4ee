namespace Orleans.Embeddings.Rollouts;

/// <summary>An operator command the coordinator refuses; the message names the state that forbids it.</summary>
[GenerateSerializer]
public sealed class RolloutCommandException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RolloutCommandException()
    {
    }

    /// <summary>Creates the exception with its message.</summary>
    public RolloutCommandException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its message and cause.</summary>
    public RolloutCommandException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
