using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Indexing;
using Orleans.Embeddings.Routing;
using Orleans.Embeddings.Storage.Documents;
using Orleans.Embeddings.Streaming.Delivery;
using Orleans.Embeddings.Workers;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace Orleans.Embeddings.Documents;

/// <summary>
/// Consumes one document's change stream. Each change is dropped when its seq is older than the stored one,
/// otherwise persisted, then sent to one worker per write target of the collection; the stream acknowledges it only
/// when every target has committed. An exception makes the stream retry it, then dead-letter it.
/// </summary>
[ImplicitStreamSubscription]
internal sealed class DocumentGrain(DocumentStore documents, DocumentWriteBatcher writes, RoutingCache routing, WorkerRouter workers) : Grain, IDocumentGrain, IStreamSubscriptionObserver
{
    public Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) =>
        handleFactory.Create<DocumentChange>().ResumeAsync(OnNextAsync);

    private async Task OnNextAsync(DocumentChange change, StreamSequenceToken? token)
    {
        var (collection, id) = DocumentStreams.Split(this.GetPrimaryKeyString());
        if (change.Collection != collection || change.Id != id)
        {
            throw new InvalidOperationException($"Document grain {collection}/{id} was delivered a change to {change.Collection}/{change.Id}.");
        }

        _ = await routing.GetAsync(collection)
            ?? throw new InvalidOperationException($"Collection {collection} has no routing: create it with an initial model version before publishing to it.");
        var seq = change.Seq ?? throw new InvalidOperationException($"The change to {collection}/{id} has no seq.");
        var written = await writes.WriteAsync(
            collection, new DocumentUpsert(id, seq, change.Operation == DocumentOperation.Delete ? null : change.Content, change.MetadataJson));
        var contentChanged = written.ContentChanged;
        var redelivery = false;
        if (!written.Applied)
        {
            var stored = await documents.GetAsync(collection, id);
            if (stored is null || stored.Seq != seq)
            {
                return; // stale: a newer change is already stored
            }

            // A duplicate (redelivered after a crash): the fan-out may not have finished, so do it again; the
            // workers skip the targets that already hold this seq, and every write is guarded by seq.
            contentChanged = true;
            redelivery = true;
        }

        // The write targets are read only now, after the document is stored: a rollout starts loading a new version
        // once every silo routes to it, so a change stored before then is in what the loader reads, and one stored
        // after is sent to the new version here (DESIGN, rollout step 3).
        var table = await routing.GetAsync(collection)
            ?? throw new InvalidOperationException($"Collection {collection} has no routing.");
        var item = change.Operation == DocumentOperation.Delete
            ? new IndexItem(id, seq, null, "{}", Redelivery: redelivery)
            : new IndexItem(id, seq, change.Content, change.MetadataJson, MetadataOnly: !contentChanged, Redelivery: redelivery);
        await Task.WhenAll(table.WriteTargets.Select(version => workers.CallAsync(collection, version, worker => worker.IndexAsync([item]))));
    }
}
