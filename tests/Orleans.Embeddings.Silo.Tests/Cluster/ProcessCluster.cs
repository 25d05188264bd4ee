namespace Orleans.Embeddings.Silo.Tests.Cluster;

/// <summary>What the tests of silo processes share: the settings of a cluster that notices a killed member in seconds, and polling.</summary>
internal static class ProcessCluster
{
    /// <summary>Settings for silo processes that form one cluster through ADO.NET clustering.</summary>
    public static Dictionary<string, string> Settings(string connectionString, string clusterId) => new()
    {
        ["Embeddings:Database:ConnectionString"] = connectionString,
        ["Embeddings:Cluster:Clustering"] = "AdoNet",
        ["Embeddings:Cluster:ClusterId"] = clusterId,
        ["Embeddings:Dashboard:Enabled"] = "false",
        // Detect a killed silo in seconds rather than the production defaults' minute.
        ["Orleans:Membership:ProbeTimeout"] = "00:00:01",
        ["Orleans:Membership:NumMissedProbesLimit"] = "2",
        ["Orleans:Membership:TableRefreshTimeout"] = "00:00:02",
        ["Logging:LogLevel:Default"] = "Warning",
    };

    /// <summary>Polls <paramref name="condition"/> every <paramref name="poll"/> (default 250 ms); fails the test with <paramref name="describeFailure"/> after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describeFailure, TimeSpan? poll = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail(describeFailure());
            }

            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(250), TestContext.Current.CancellationToken);
        }
    }
}
