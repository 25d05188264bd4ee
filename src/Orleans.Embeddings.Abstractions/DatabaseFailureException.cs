namespace Orleans.Embeddings;

/// <summary>
/// A grain call that failed in PostgreSQL, as its caller sees it (Npgsql's own exceptions cannot cross a grain call).
/// <see cref="Transient"/> says whether the connection or the server went away (terminated, restarting, unreachable), so
/// that the same call succeeds once the database is back, rather than the statement being wrong.
/// </summary>
[GenerateSerializer]
public sealed class DatabaseFailureException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public DatabaseFailureException()
    {
    }

    /// <summary>Creates the exception with its message.</summary>
    public DatabaseFailureException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its message and cause.</summary>
    public DatabaseFailureException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception, saying whether repeating the call can succeed.</summary>
    public DatabaseFailureException(string message, bool transient)
        : base(message) => Transient = transient;

    /// <summary>Whether the database was unreachable or went away (repeat the call later), rather than refusing the statement.</summary>
    [Id(0)]
    public bool Transient { get; init; }
}
