using Orleans.Embeddings.Client.Publishing;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Tests.Indexing;

namespace Orleans.Embeddings.Tests.Rollouts;

/// <summary>
/// Publishes a steady mix of upserts and deletes with explicit seqs and remembers each document's final state, so a
/// test can compare every version table with what it must hold.
/// </summary>
internal sealed class LiveProducer(IDocumentChangePublisher publisher, string collection, int documents)
{
    private readonly Dictionary<string, (long Seq, bool Deleted)> _expected = [];
    private readonly Random _random = new(42);
    private long _sent;

    /// <summary>Changes published so far.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Each document's last seq and whether its last change was a delete.</summary>
    public IReadOnlyDictionary<string, (long Seq, bool Deleted)> Expected => _expected;

    /// <summary>Publishes every document once (seq 1).</summary>
    public async Task SeedAsync(CancellationToken cancellationToken)
    {
        var changes = Enumerable.Range(0, documents).Select(i => Change($"d{i}", 1, delete: false, i)).ToList();
        await publisher.PublishManyAsync(changes, cancellationToken);
        foreach (var change in changes)
        {
            _expected[change.Id] = (1, false);
        }

        Interlocked.Add(ref _sent, changes.Count);
    }

    /// <summary>Publishes batches of random upserts and deletes (about one in four a delete) until cancelled.</summary>
    public async Task RunAsync(int perBatch, TimeSpan interval, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var batch = new List<DocumentChange>(perBatch);
            var touched = new HashSet<string>();
            for (var n = 0; n < perBatch; n++)
            {
                var i = _random.Next(documents);
                var id = $"d{i}";
                if (!touched.Add(id))
                {
                    continue;
                }

                var seq = (_expected.TryGetValue(id, out var current) ? current.Seq : 0) + 1;
                var delete = _random.Next(4) == 0;
                batch.Add(Change(id, seq, delete, i + (int)seq));
            }

            await publisher.PublishManyAsync(batch, CancellationToken.None);
            foreach (var change in batch)
            {
                _expected[change.Id] = (change.Seq!.Value, change.Operation == DocumentOperation.Delete);
            }

            Interlocked.Add(ref _sent, batch.Count);
            try
            {
                await Task.Delay(interval, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private DocumentChange Change(string id, long seq, bool delete, int text) => delete
        ? new DocumentChange(collection, id, DocumentOperation.Delete, seq, null, "{}")
        : new DocumentChange(collection, id, DocumentOperation.Upsert, seq, IndexerCluster.Text(text), "{}");
}
