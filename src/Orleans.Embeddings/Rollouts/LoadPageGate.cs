using Microsoft.Extensions.Options;
using Orleans.Embeddings.Hosting;

namespace Orleans.Embeddings.Rollouts;

/// <summary>
/// Bounds how many load pages this silo reads from or writes to PostgreSQL at once, its shard grains' keyset reads and
/// its workers' bulk writes together (<see cref="RolloutOptions.ConcurrentPages"/>), so that a load leaves PostgreSQL
/// room for live changes. Embedding is not bounded by it: the bulk lane's own capacity and priority do that.
/// </summary>
public sealed class LoadPageGate(IOptions<IndexerOptions> options) : IDisposable
{
    private readonly SemaphoreSlim? _pages = options.Value.Rollouts.ConcurrentPages is > 0 and var n ? new SemaphoreSlim(n) : null;

    /// <summary>Waits for a page slot; dispose the result to free it.</summary>
    public async ValueTask<Slot> EnterAsync(CancellationToken cancellationToken)
    {
        if (_pages is null)
        {
            return default;
        }

        await _pages.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Slot(_pages);
    }

    /// <inheritdoc />
    public void Dispose() => _pages?.Dispose();

    /// <summary>A page slot held until disposed.</summary>
    public readonly struct Slot(SemaphoreSlim? pages) : IDisposable
    {
        /// <inheritdoc />
        public void Dispose() => pages?.Release();
    }
}
