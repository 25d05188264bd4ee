namespace Orleans.Embeddings.Search;

/// <summary>Why a search or embedding call was refused.</summary>
public enum SearchErrorKind
{
    /// <summary>The request itself is wrong: an empty text, k out of range, a malformed filter.</summary>
    InvalidRequest,

    /// <summary>The collection does not exist (it has no routing).</summary>
    UnknownCollection,

    /// <summary>The pinned version does not exist in the collection (or was retired).</summary>
    UnknownVersion,
}

/// <summary>A search call refused before any work; the message names what was wrong.</summary>
[GenerateSerializer]
public sealed class SearchException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SearchException()
    {
    }

    /// <summary>Creates the exception with its message.</summary>
    public SearchException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its message and cause.</summary>
    public SearchException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception of a kind.</summary>
    public SearchException(SearchErrorKind kind, string message)
        : base(message) => Kind = kind;

    /// <summary>What was wrong.</summary>
    [Id(0)]
    public SearchErrorKind Kind { get; init; }
}
