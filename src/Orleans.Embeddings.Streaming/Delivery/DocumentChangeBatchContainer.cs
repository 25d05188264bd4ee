using Orleans.Embeddings.Documents;
using Orleans.Runtime;
using Orleans.Streams;

namespace Orleans.Embeddings.Streaming.Delivery;

/// <summary>One document change as it travels from a receiver through the pulling agent's cache to the consumer grain.</summary>
[GenerateSerializer]
public sealed class DocumentChangeBatchContainer : IBatchContainer
{
    /// <summary>Creates a container for one change.</summary>
    public DocumentChangeBatchContainer(StreamId streamId, DocumentChange change, StreamSequenceToken sequenceToken, long position)
    {
        StreamId = streamId;
        Change = change;
        SequenceToken = sequenceToken;
        Position = position;
    }

    /// <inheritdoc />
    [Id(0)]
    public StreamId StreamId { get; }

    /// <summary>The change, with <see cref="DocumentChange.Seq"/> always set (the log position when the producer gave none).</summary>
    [Id(1)]
    public DocumentChange Change { get; }

    /// <inheritdoc />
    [Id(2)]
    public StreamSequenceToken SequenceToken { get; }

    /// <summary>The event's position in its queue (log position or Kafka offset).</summary>
    [Id(3)]
    public long Position { get; }

    /// <inheritdoc />
    public IEnumerable<Tuple<T, StreamSequenceToken>> GetEvents<T>()
    {
        if (Change is T typed)
        {
            yield return Tuple.Create(typed, SequenceToken);
        }
    }

    /// <inheritdoc />
    public bool ImportRequestContext() => false;

    /// <inheritdoc />
    public override string ToString() => $"{StreamId} @{Position}";
}
