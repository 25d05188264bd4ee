using Orleans.Embeddings.Documents;

namespace Orleans.Embeddings.Client.Publishing;

/// <summary>
/// Publishes document changes to the event log the indexer consumes (the PostgreSQL log or a Kafka topic).
/// A call returns once the log has durably accepted every change it was given.
/// </summary>
public interface IDocumentChangePublisher : IAsyncDisposable
{
    /// <summary>Publishes one change.</summary>
    /// <exception cref="ArgumentException">The change is invalid; the message says what is wrong. Nothing is published.</exception>
    Task PublishAsync(DocumentChange change, CancellationToken cancellationToken = default);

    /// <summary>Publishes many changes; each document's changes keep their order.</summary>
    /// <exception cref="ArgumentException">A change is invalid; the message names it and what is wrong. Nothing of the batch is published.</exception>
    Task PublishManyAsync(IReadOnlyList<DocumentChange> changes, CancellationToken cancellationToken = default);

    /// <summary>
    /// Publishes an event's raw bytes as they are, keyed by collection and document id. A malformed event is not
    /// refused here: the consumer side dead-letters it with the reason.
    /// </summary>
    Task PublishRawAsync(string collection, string id, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default);
}
