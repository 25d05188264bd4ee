using Orleans.Embeddings.Documents;

namespace Orleans.Embeddings.Streaming.Events;

/// <summary>A parsed event, or the reason it could not be parsed (what goes into the dead-letter table).</summary>
public readonly record struct DocumentChangeParseResult(DocumentChange? Change, string? Error)
{
    /// <summary>True when <see cref="Change"/> holds the event.</summary>
    public bool Succeeded => Change is not null;
}
