using System.Threading.Channels;
using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Workers;

/// <summary>
/// Coalesces the rows of concurrent callers into few guarded upserts: while one statement runs, the next callers'
/// rows gather, and go together in the next one. Each caller's task completes once its rows are committed.
/// </summary>
internal sealed class RowWriteBatcher : IAsyncDisposable
{
    private readonly EmbeddingTableWriter _writer;
    private readonly VersionTable _table;
    private readonly int _maxRows;
    private readonly Channel<Pending> _pending = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;

    public RowWriteBatcher(EmbeddingTableWriter writer, VersionTable table, int maxRows)
    {
        _writer = writer;
        _table = table;
        _maxRows = maxRows;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Rows written so far.</summary>
    public long RowsWritten => Interlocked.Read(ref _rowsWritten);

    private long _rowsWritten;

    /// <summary>Writes rows; completes after they are committed.</summary>
    public Task WriteAsync(IReadOnlyList<EmbeddingRow> rows)
    {
        if (rows.Count == 0)
        {
            return Task.CompletedTask;
        }

        var pending = new Pending(rows);
        if (!_pending.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(RowWriteBatcher));
        }

        return pending.Completion.Task;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task RunAsync()
    {
        var batch = new List<Pending>();
        var rows = new List<EmbeddingRow>();
        while (await _pending.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            rows.Clear();
            while (rows.Count < _maxRows && _pending.Reader.TryRead(out var next))
            {
                batch.Add(next);
                rows.AddRange(next.Rows);
            }

            try
            {
                await _writer.WriteAsync(_table, rows).ConfigureAwait(false);
                Interlocked.Add(ref _rowsWritten, rows.Count);
                foreach (var pending in batch)
                {
                    pending.Completion.TrySetResult();
                }
            }
            catch (Exception ex)
            {
                foreach (var pending in batch)
                {
                    pending.Completion.TrySetException(ex);
                }
            }
        }
    }

    private sealed class Pending(IReadOnlyList<EmbeddingRow> rows)
    {
        public IReadOnlyList<EmbeddingRow> Rows { get; } = rows;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
