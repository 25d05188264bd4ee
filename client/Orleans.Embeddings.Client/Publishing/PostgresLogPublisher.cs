using Npgsql;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Streaming.Events;
using Orleans.Embeddings.Streaming.PostgresLog;

namespace Orleans.Embeddings.Client.Publishing;

/// <summary>
/// Publishes to the PostgreSQL log of stream provider <paramref name="provider"/>. Inside a producer's own
/// transaction, use <see cref="PostgresLogStore.AppendAsync(NpgsqlConnection, NpgsqlTransaction?, string, IReadOnlyList{LogAppend}, CancellationToken)"/>
/// or the SQL function <c>embeddings_stream_publish</c> instead (the transactional outbox).
/// </summary>
public sealed class PostgresLogPublisher(NpgsqlDataSource dataSource, string provider, DocumentChangeLimits? limits = null) : IDocumentChangePublisher
{
    /// <summary>Rows appended per statement.</summary>
    public const int ChunkSize = 5000;

    private readonly PostgresLogStore _store = new(dataSource);
    private readonly DocumentChangeParser _parser = new(limits);

    /// <inheritdoc />
    public Task PublishAsync(DocumentChange change, CancellationToken cancellationToken = default) => PublishManyAsync([change], cancellationToken);

    /// <inheritdoc />
    public async Task PublishManyAsync(IReadOnlyList<DocumentChange> changes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var appends = new LogAppend[changes.Count];
        for (var i = 0; i < changes.Count; i++)
        {
            appends[i] = new LogAppend(changes[i].Collection, changes[i].Id, PublishedEvents.Serialize(changes[i], _parser, changes.Count > 1 ? i : -1));
        }

        if (appends.Length <= ChunkSize)
        {
            await _store.AppendAsync(provider, appends, cancellationToken);
            return;
        }

        // One transaction, so a failure publishes none of the batch.
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        for (var offset = 0; offset < appends.Length; offset += ChunkSize)
        {
            await _store.AppendAsync(connection, transaction, provider, new ArraySegment<LogAppend>(appends, offset, Math.Min(ChunkSize, appends.Length - offset)), cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public Task PublishRawAsync(string collection, string id, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        _store.AppendAsync(provider, [new LogAppend(collection, id, payload.ToArray())], cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
