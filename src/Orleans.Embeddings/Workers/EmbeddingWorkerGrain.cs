using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Embeddings.Devices;
using Orleans.Embeddings.Hosting;
using Orleans.Embeddings.Indexing;
using Orleans.Embeddings.Inference.Batching;
using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Search;
using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Workers;

/// <summary>
/// Embeds with one model version on one device (placed on the silo that owns it) through a dynamic batcher with
/// query, live and bulk lanes, and writes with the guarded batched upsert. Reentrant: concurrent calls fill the
/// batches. A full lane makes callers wait, which slows the stream that feeds them (backpressure).
/// </summary>
[DevicePlacement]
[Reentrant]
internal sealed class EmbeddingWorkerGrain(
    ModelSessions sessions, EmbeddingTableWriter writer, IOptions<IndexerOptions> options, ILocalSiloDetails silo, LocalWorkers localWorkers, LoadPageGate loadPages)
    : Grain, IEmbeddingWorkerGrain
{
    private DynamicBatcher _batcher = null!;
    private DynamicBatcher? _queryBatcher;
    private RowWriteBatcher _rows = null!;
    private VersionTable _table = null!;
    private WorkerKey _key;
    private LocalEmbedder _embedder = null!;
    private long _metadataUpdates;
    private long _redeliveriesSkipped;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _key = WorkerKey.Parse(this.GetPrimaryKeyString());
        var (table, session, querySession) = await DatabaseFailureCallFilter.ActivateAsync(
            sessions.GetAsync(_key.Collection, _key.Version, _key.Device), $"Activating the embedding worker {_key}");
        _table = table;
        _batcher = new DynamicBatcher(session, options.Value.Batching);
        _queryBatcher = querySession is null ? null : new DynamicBatcher(querySession, QueryModelBatching(options.Value.Batching));
        _rows = new RowWriteBatcher(writer, table, options.Value.MaxWriteBatch);
        _embedder = new LocalEmbedder(_batcher, _queryBatcher, table.Dimensions);
        localWorkers.Add(_key.Collection, _key.Version, _embedder);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        localWorkers.Remove(_key.Collection, _key.Version, _embedder);
        await _batcher.DisposeAsync();
        if (_queryBatcher is not null)
        {
            await _queryBatcher.DisposeAsync();
        }

        await _rows.DisposeAsync();
    }

    public Task IndexAsync(IReadOnlyList<IndexItem> items) => IndexAsync(items, EmbeddingLane.Live);

    public Task IndexBulkAsync(IReadOnlyList<IndexItem> items) => IndexAsync(items, EmbeddingLane.Bulk);

    public Task<float[]> EmbedQueryAsync(string text) => _embedder.EmbedQueryAsync(text);

    public Task<float[][]> EmbedAsync(IReadOnlyList<string> texts, TextKind kind) => _embedder.EmbedAsync(texts, kind);

    public Task<WorkerStatistics> GetStatisticsAsync() =>
        Task.FromResult(new WorkerStatistics(silo.Name, _key.Device, _embedder.TextsEmbedded, _rows.RowsWritten, Interlocked.Read(ref _metadataUpdates), Interlocked.Read(ref _redeliveriesSkipped),
            _batcher.Tokens, _batcher.PaddedTokens));

    private async Task IndexAsync(IReadOnlyList<IndexItem> items, EmbeddingLane lane)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (items.Any(i => i.Redelivery))
        {
            items = await SkipWrittenAsync(items);
        }

        if (items.Any(i => i.MetadataOnly))
        {
            items = await UpdateMetadataAsync(items);
        }

        var embeddings = new Task<float[]>?[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i].Content is { } content)
            {
                embeddings[i] = _embedder.EmbedDocumentAsync(content, lane);
            }
        }

        var rows = new EmbeddingRow[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            rows[i] = embeddings[i] is { } embedding
                ? EmbeddingRow.Upsert(item.Id, item.Seq, await embedding, item.MetadataJson)
                : EmbeddingRow.Tombstone(item.Id, item.Seq);
        }

        _embedder.Count(embeddings.Count(e => e is not null));

        // A load page's write counts against the silo's load-page limit, as its read did.
        using (lane == EmbeddingLane.Bulk ? await loadPages.EnterAsync(CancellationToken.None) : default)
        {
            await _rows.WriteAsync(rows);
        }
    }

    // The query model's batcher takes queries only: one document runner (idle) and no bulk runners of its own.
    private static DynamicBatcherOptions QueryModelBatching(DynamicBatcherOptions batching) => new()
    {
        MaxBatchSize = batching.MaxBatchSize,
        QueryMaxWait = batching.QueryMaxWait,
        InlineQueryBelow = batching.InlineQueryBelow,
        MaxPaddedTokens = batching.MaxPaddedTokens,
        LaneCapacity = batching.LaneCapacity,
        DocumentRunners = 1,
        BulkNice = 0,
    };

    // A redelivered change that this version already holds (at its seq or newer) is not embedded again.
    private async Task<IReadOnlyList<IndexItem>> SkipWrittenAsync(IReadOnlyList<IndexItem> items)
    {
        var stored = await writer.GetSeqsAsync(_table, [.. items.Where(i => i.Redelivery).Select(i => i.Id)]);
        var remaining = items.Where(i => !i.Redelivery || !stored.TryGetValue(i.Id, out var seq) || seq < i.Seq).ToList();
        Interlocked.Add(ref _redeliveriesSkipped, items.Count - remaining.Count);
        return remaining;
    }

    // Metadata-only changes move the row without the model; one whose row is missing or deleted here (say, a
    // version added while the document was away) is embedded after all. A newer row makes the write a no-op.
    private async Task<IReadOnlyList<IndexItem>> UpdateMetadataAsync(IReadOnlyList<IndexItem> items)
    {
        var remaining = new List<IndexItem>(items.Count);
        foreach (var item in items)
        {
            if (item.MetadataOnly && item.Content is not null && await writer.UpdateMetadataAsync(_table, item.Id, item.Seq, item.MetadataJson))
            {
                Interlocked.Increment(ref _metadataUpdates);
                continue;
            }

            remaining.Add(item);
        }

        return remaining;
    }
}
