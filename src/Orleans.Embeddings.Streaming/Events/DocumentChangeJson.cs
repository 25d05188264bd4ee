using System.Text.Json;
using Orleans.Embeddings.Documents;

namespace Orleans.Embeddings.Streaming.Events;

/// <summary>Writes a <see cref="DocumentChange"/> in the JSON event format <see cref="DocumentChangeParser"/> reads.</summary>
public static class DocumentChangeJson
{
    /// <summary>The event as UTF-8 JSON.</summary>
    public static byte[] ToUtf8(DocumentChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(128 + (change.Content?.Length ?? 0));
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("collection", change.Collection);
            writer.WriteString("id", change.Id);
            writer.WriteString("op", change.Operation == DocumentOperation.Delete ? "delete" : "upsert");
            if (change.Seq is { } seq)
            {
                writer.WriteNumber("seq", seq);
            }

            if (change.Operation == DocumentOperation.Upsert)
            {
                writer.WriteString("content", change.Content ?? string.Empty);
                if (!string.IsNullOrEmpty(change.MetadataJson) && change.MetadataJson != "{}")
                {
                    writer.WritePropertyName("metadata");
                    writer.WriteRawValue(change.MetadataJson);
                }
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
