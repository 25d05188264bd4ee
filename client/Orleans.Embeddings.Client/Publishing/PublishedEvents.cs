using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Streaming.Events;

namespace Orleans.Embeddings.Client.Publishing;

/// <summary>Serializes changes for publishing, refusing invalid ones with the same rules the consumer side applies.</summary>
internal static class PublishedEvents
{
    public static byte[] Serialize(DocumentChange change, DocumentChangeParser parser, int index = -1)
    {
        ArgumentNullException.ThrowIfNull(change);
        var bytes = DocumentChangeJson.ToUtf8(change);
        var check = parser.Parse(bytes);
        if (!check.Succeeded)
        {
            var which = index >= 0 ? $"change #{index} ({change.Collection}/{change.Id})" : $"the change to {change.Collection}/{change.Id}";
            throw new ArgumentException($"{which} is invalid: {check.Error}. Nothing was published.", nameof(change));
        }

        return bytes;
    }
}
