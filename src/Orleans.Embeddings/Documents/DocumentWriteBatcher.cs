using System.Threading.Channels;
using Orleans.Embeddings.Storage.Documents;

namespace Orleans.Embeddings.Documents;

/// <summary>
/// Coalesces the document writes of all document grains of a silo into batched guarded upserts: thousands of grains
/// delivering at once share a few connections instead of exhausting the pool, and each still gets its own result.
/// </summary>
public sealed class DocumentWriteBatcher : IAsyncDisposable
{
    /// <summary>Most changes in one statement.</summary>
    public const int MaxBatch = 512;

    /// <summary>Statements in flight at once.</summary>
    public const int Writers = 4;

    private readonly DocumentStore _store;
    private readonly Channel<Pending> _pending = Channel.CreateUnbounded<Pending>();
    private readonly Task[] _loops;

    /// <summary>Starts the writer loops.</summary>
    public DocumentWriteBatcher(DocumentStore store)
    {
        _store = store;
        _loops = [.. Enumerable.Range(0, Writers).Select(_ => Task.Run(RunAsync))];
    }

    /// <summary>Writes one change with the seq guard; completes when it is committed.</summary>
    public Task<DocumentWriteResult> WriteAsync(string collection, DocumentUpsert change)
    {
        var pending = new Pending(collection, change);
        if (!_pending.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(DocumentWriteBatcher));
        }

        return pending.Completion.Task;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await Task.WhenAll(_loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task RunAsync()
    {
        var batch = new List<Pending>(MaxBatch);
        while (await _pending.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _pending.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }

            foreach (var group in batch.GroupBy(p => p.Collection, StringComparer.Ordinal))
            {
                var items = group.ToList();
                try
                {
                    var results = await _store.WriteManyAsync(group.Key, [.. items.Select(p => p.Change)]).ConfigureAwait(false);
                    for (var i = 0; i < items.Count; i++)
                    {
                        items[i].Completion.TrySetResult(results[i]);
                    }
                }
                catch (Exception ex)
                {
                    foreach (var item in items)
                    {
                        item.Completion.TrySetException(ex);
                    }
                }
            }
        }
    }

    private sealed class Pending(string collection, DocumentUpsert change)
    {
        public string Collection { get; } = collection;

        public DocumentUpsert Change { get; } = change;

        public TaskCompletionSource<DocumentWriteResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
