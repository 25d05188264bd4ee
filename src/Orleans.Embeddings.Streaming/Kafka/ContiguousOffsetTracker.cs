namespace Orleans.Embeddings.Streaming.Kafka;

/// <summary>
/// Tracks the offsets of one partition read but not yet acknowledged. The commit point is the lowest offset still
/// pending (or the next offset to read when none is), so a committed offset never skips an unacknowledged event.
/// </summary>
public sealed class ContiguousOffsetTracker(long startOffset)
{
    private readonly SortedSet<long> _pending = [];
    private long _next = startOffset;

    /// <summary>The offset a restart would resume from: everything below it is acknowledged.</summary>
    public long CommitPoint => _pending.Count > 0 ? _pending.Min : _next;

    /// <summary>The number of offsets read and not acknowledged.</summary>
    public int PendingCount => _pending.Count;

    /// <summary>Records that <paramref name="offset"/> was read.</summary>
    public void Read(long offset)
    {
        _pending.Add(offset);
        _next = Math.Max(_next, offset + 1);
    }

    /// <summary>Records that <paramref name="offset"/> was acknowledged (delivered, or dead-lettered).</summary>
    public void Acknowledge(long offset) => _pending.Remove(offset);
}
