using Orleans.Embeddings.Indexing;

namespace Orleans.Embeddings.Tests.Routing;

public sealed class TrafficSplitTests
{
    private static readonly string[] s_keys = [.. Enumerable.Range(0, 10_000).Select(i => $"user-{i}")];

    [Fact]
    public void The_same_key_always_gets_the_same_version_and_shares_match_the_weights()
    {
        var traffic = new Dictionary<string, int> { ["v1"] = 70, ["v2"] = 30 };
        var first = s_keys.Select(k => TrafficSplit.Choose(traffic, k)).ToArray();
        Assert.Equal(first, s_keys.Select(k => TrafficSplit.Choose(new Dictionary<string, int> { ["v2"] = 30, ["v1"] = 70 }, k)));
        Assert.InRange(first.Count(v => v == "v2"), 2_700, 3_300);
    }

    [Fact]
    public void Raising_the_new_versions_share_only_moves_keys_to_it()
    {
        string[]? previous = null;
        foreach (var percent in new[] { 0, 10, 50, 90, 100 })
        {
            var traffic = new Dictionary<string, int> { ["v1"] = 100 - percent, ["v2"] = percent };
            var now = s_keys.Select(k => TrafficSplit.Choose(traffic, k)).ToArray();
            if (previous is not null)
            {
                Assert.All(Enumerable.Range(0, s_keys.Length).Where(i => previous[i] == "v2"), i => Assert.Equal("v2", now[i]));
            }

            previous = now;
        }

        Assert.All(previous!, v => Assert.Equal("v2", v));
    }

    [Fact]
    public void No_traffic_is_refused() =>
        Assert.Throws<InvalidOperationException>(() => TrafficSplit.Choose(new Dictionary<string, int>(), "k"));
}
