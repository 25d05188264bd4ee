using Orleans.Embeddings.Streaming.Events;

namespace Orleans.Embeddings.Streaming.Delivery;

/// <summary>
/// Turns a raw event read from a log into a change ready for delivery, or the reason it must be dead-lettered:
/// the parser's checks, plus agreement between the event and the key it was partitioned by (a mismatch would
/// put the document's changes in two queues and lose their order), and the log position as seq when none is given.
/// </summary>
public sealed class DocumentEventDecoder(DocumentChangeLimits limits)
{
    private readonly DocumentChangeParser _parser = new(limits);

    /// <summary>Decodes one event. <paramref name="keyCollection"/>/<paramref name="keyId"/> are the partitioning key, when the transport has one.</summary>
    public DocumentChangeParseResult Decode(ReadOnlySpan<byte> payload, string? keyCollection, string? keyId, long position)
    {
        var parsed = _parser.Parse(payload);
        if (parsed.Change is not { } change)
        {
            return parsed;
        }

        if (keyCollection is not null && (change.Collection != keyCollection || change.Id != keyId))
        {
            return new DocumentChangeParseResult(
                null,
                $"the event is for {DocumentStreams.Key(change.Collection, change.Id)} but was published with the key {keyCollection}/{keyId}");
        }

        return change.Seq is null ? new DocumentChangeParseResult(change with { Seq = position }, null) : parsed;
    }
}
