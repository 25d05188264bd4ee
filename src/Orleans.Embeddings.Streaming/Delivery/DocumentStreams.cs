using Orleans.Runtime;

namespace Orleans.Embeddings.Streaming.Delivery;

/// <summary>
/// How documents map to Orleans streams: one stream per document, namespace = collection, key = "collection/id"
/// (so an implicitly subscribed grain keyed by the stream key knows both, and ids never collide across collections).
/// </summary>
public static class DocumentStreams
{
    /// <summary>The stream key of a document, also the Kafka message key and the grain key of its consumer.</summary>
    public static string Key(string collection, string id) => $"{collection}/{id}";

    /// <summary>The stream of a document.</summary>
    public static StreamId StreamId(string collection, string id) => Runtime.StreamId.Create(collection, Key(collection, id));

    /// <summary>Splits a stream key (a grain key) into collection and document id.</summary>
    /// <exception cref="ArgumentException">The key has no '/'.</exception>
    public static (string Collection, string Id) Split(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == key.Length - 1)
        {
            throw new ArgumentException($"'{key}' is not a document stream key of the form collection/id.", nameof(key));
        }

        return (key[..slash], key[(slash + 1)..]);
    }
}
