using System.Collections.Concurrent;
using Orleans.Embeddings.Documents;

namespace Orleans.Embeddings.Streaming.Tests.Consumers;

/// <summary>What the consumer grains finished, per collection, in completion order (all silos of a test run in this process).</summary>
public static class DeliveryLog
{
    private static readonly ConcurrentDictionary<string, ConcurrentQueue<DocumentChange>> s_deliveries = new();

    /// <summary>Records a finished change.</summary>
    public static void Record(DocumentChange change) => s_deliveries.GetOrAdd(change.Collection, _ => new()).Enqueue(change);

    /// <summary>The changes of a collection finished so far.</summary>
    public static IReadOnlyList<DocumentChange> Of(string collection) =>
        s_deliveries.TryGetValue(collection, out var queue) ? [.. queue] : [];

    /// <summary>How many distinct (id, seq) pairs of a collection were finished.</summary>
    public static int DistinctCount(string collection) => Of(collection).Select(c => (c.Id, c.Seq)).Distinct().Count();

    /// <summary>Waits until <paramref name="condition"/> holds for the collection's deliveries, or fails after <paramref name="timeout"/>.</summary>
    public static async Task WaitForAsync(string collection, Func<IReadOnlyList<DocumentChange>, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition(Of(collection)))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout} waiting for {what}; {Of(collection).Count} deliveries so far.");
            }

            await Task.Delay(100);
        }
    }
}
