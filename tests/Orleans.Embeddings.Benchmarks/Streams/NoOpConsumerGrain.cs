using System.Diagnostics;
using System.Globalization;
using Orleans.Embeddings.Documents;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace Orleans.Embeddings.Benchmarks.Streams;

/// <summary>The benchmark's consumer grain interface.</summary>
public interface INoOpConsumerGrain : IGrainWithStringKey
{
}

/// <summary>
/// Does nothing with a change but note when it arrived: the content is the Stopwatch timestamp taken just before
/// the change was published, so the end-to-end latency is measured inside one process with one clock.
/// </summary>
[ImplicitStreamSubscription(StreamsBenchmark.Collection)]
public sealed class NoOpConsumerGrain : Grain, INoOpConsumerGrain, IStreamSubscriptionObserver
{
    /// <inheritdoc />
    public Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory) =>
        handleFactory.Create<DocumentChange>().ResumeAsync(OnNextAsync);

    private static Task OnNextAsync(DocumentChange change, StreamSequenceToken? token)
    {
        ConsumerStatistics.Record(Stopwatch.GetElapsedTime(long.Parse(change.Content!, CultureInfo.InvariantCulture)));
        return Task.CompletedTask;
    }
}

/// <summary>Counts consumed events and keeps their latencies.</summary>
public static class ConsumerStatistics
{
    private static readonly Lock s_lock = new();
    private static List<double> s_latencies = new(1 << 18);
    private static long s_consumed;

    /// <summary>Events consumed since the last <see cref="Reset"/>.</summary>
    public static long Consumed => Interlocked.Read(ref s_consumed);

    /// <summary>Records one consumed event.</summary>
    public static void Record(TimeSpan latency)
    {
        lock (s_lock)
        {
            s_latencies.Add(latency.TotalMilliseconds);
        }

        Interlocked.Increment(ref s_consumed);
    }

    /// <summary>Starts counting afresh and returns the latencies recorded so far.</summary>
    public static List<double> Reset()
    {
        lock (s_lock)
        {
            var latencies = s_latencies;
            s_latencies = new List<double>(1 << 18);
            Interlocked.Exchange(ref s_consumed, 0);
            return latencies;
        }
    }
}
