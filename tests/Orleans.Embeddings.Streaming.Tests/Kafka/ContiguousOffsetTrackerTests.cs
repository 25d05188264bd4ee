using Orleans.Embeddings.Streaming.Kafka;

namespace Orleans.Embeddings.Streaming.Tests.Kafka;

public sealed class ContiguousOffsetTrackerTests
{
    [Fact]
    public void The_commit_point_never_passes_an_unacknowledged_offset()
    {
        var tracker = new ContiguousOffsetTracker(10);
        Assert.Equal(10, tracker.CommitPoint);
        foreach (var offset in new long[] { 10, 11, 12, 13 })
        {
            tracker.Read(offset);
        }

        tracker.Acknowledge(11);
        tracker.Acknowledge(13);
        Assert.Equal(10, tracker.CommitPoint);
        tracker.Acknowledge(10);
        Assert.Equal(12, tracker.CommitPoint);
        tracker.Acknowledge(12);
        Assert.Equal(14, tracker.CommitPoint);
        Assert.Equal(0, tracker.PendingCount);
    }

    [Fact]
    public void Gaps_in_offsets_are_skipped_once_everything_read_is_acknowledged()
    {
        // Compacted topics and transaction markers leave gaps; the next offset to read is what counts.
        var tracker = new ContiguousOffsetTracker(0);
        tracker.Read(0);
        tracker.Read(5);
        tracker.Acknowledge(5);
        Assert.Equal(0, tracker.CommitPoint);
        tracker.Acknowledge(0);
        Assert.Equal(6, tracker.CommitPoint);
    }
}
