using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Storage;
using Orleans.Embeddings.Storage.Naming;

namespace Orleans.Embeddings.Streaming.Events;

/// <summary>
/// Parses the JSON event format producers write:
/// <c>{"collection":"docs","id":"a-1","op":"upsert","seq":42,"content":"...","metadata":{...}}</c> and
/// <c>{"collection":"docs","id":"a-1","op":"delete","seq":43}</c>. Never throws on bad input: a bad event
/// yields a reason naming what was wrong, so it can be dead-lettered while the partition moves on.
/// </summary>
public sealed class DocumentChangeParser(DocumentChangeLimits? limits = null)
{
    private readonly DocumentChangeLimits _limits = limits ?? new DocumentChangeLimits();

    /// <summary>Parses one event from its raw UTF-8 bytes.</summary>
    public DocumentChangeParseResult Parse(ReadOnlySpan<byte> utf8)
    {
        if (!Utf8.IsValid(utf8))
        {
            return Fail("the event is not valid UTF-8");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8.ToArray());
        }
        catch (JsonException ex)
        {
            return Fail($"the event is not valid JSON: {ex.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Fail($"the event must be a JSON object, not {root.ValueKind}");
            }

            if (String(root, "collection") is not { } collection)
            {
                return Fail("\"collection\" is missing or not a string");
            }

            try
            {
                StorageNames.Validate(collection, "collection");
            }
            catch (ArgumentException ex)
            {
                return Fail(ex.Message);
            }

            if (String(root, "id") is not { Length: > 0 } id)
            {
                return Fail("\"id\" is missing, empty or not a string");
            }

            if (Encoding.UTF8.GetByteCount(id) > _limits.MaxIdBytes)
            {
                return Fail($"\"id\" is longer than {_limits.MaxIdBytes} bytes");
            }

            // PostgreSQL's text and jsonb cannot hold NUL: such an event could never be stored.
            if (PostgresText.ContainsNul(id))
            {
                return Fail("\"id\" contains NUL (U+0000), which PostgreSQL cannot store");
            }

            DocumentOperation? operation = String(root, "op") switch
            {
                "upsert" => DocumentOperation.Upsert,
                "delete" => DocumentOperation.Delete,
                _ => null,
            };
            if (operation is null)
            {
                return Fail($"\"op\" must be \"upsert\" or \"delete\" (was {Describe(root, "op")})");
            }

            long? seq = null;
            if (root.TryGetProperty("seq", out var seqElement) && seqElement.ValueKind != JsonValueKind.Null)
            {
                if (seqElement.ValueKind != JsonValueKind.Number || !seqElement.TryGetInt64(out var value) || value < 0)
                {
                    return Fail($"\"seq\" must be a non-negative integer (was {seqElement.GetRawText()})");
                }

                seq = value;
            }

            if (operation == DocumentOperation.Delete)
            {
                return new DocumentChangeParseResult(new DocumentChange(collection, id, DocumentOperation.Delete, seq, null, "{}"), null);
            }

            if (String(root, "content") is not { } content)
            {
                return Fail("an upsert needs \"content\", a string");
            }

            if (Encoding.UTF8.GetByteCount(content) > _limits.MaxContentBytes)
            {
                return Fail($"\"content\" is larger than {_limits.MaxContentBytes} bytes");
            }

            if (PostgresText.ContainsNul(content))
            {
                return Fail("\"content\" contains NUL (U+0000), which PostgreSQL cannot store");
            }

            var metadata = "{}";
            if (root.TryGetProperty("metadata", out var metadataElement) && metadataElement.ValueKind != JsonValueKind.Null)
            {
                if (metadataElement.ValueKind != JsonValueKind.Object)
                {
                    return Fail($"\"metadata\" must be a JSON object, not {metadataElement.ValueKind}");
                }

                metadata = metadataElement.GetRawText();
                if (Encoding.UTF8.GetByteCount(metadata) > _limits.MaxMetadataBytes)
                {
                    return Fail($"\"metadata\" is larger than {_limits.MaxMetadataBytes} bytes");
                }

                if (PostgresText.HoldsNul(metadataElement))
                {
                    return Fail("\"metadata\" holds a NUL (U+0000) in a name or string, which PostgreSQL cannot store");
                }
            }

            return new DocumentChangeParseResult(new DocumentChange(collection, id, DocumentOperation.Upsert, seq, content, metadata), null);
        }
    }

    private static string? String(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Describe(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) ? value.GetRawText() : "missing";

    private static DocumentChangeParseResult Fail(string reason) => new(null, reason);
}
