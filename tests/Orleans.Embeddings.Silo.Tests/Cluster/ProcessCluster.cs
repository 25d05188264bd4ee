using Npgsql;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Sessions;
using Pgvector;

namespace Orleans.Embeddings.Silo.Tests.Cluster;

/// <summary>
/// What the tests of silo processes share: the settings of a cluster that notices a killed member in seconds, polling,
/// and the check of stored vectors.
/// </summary>
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

    /// <summary>Asserts that the vector of each document in <paramref name="lastTexts"/> (id → its last text) in a version table is the model's embedding of that text.</summary>
    public static async Task AssertVectorsAsync(NpgsqlDataSource dataSource, string quotedTable, EmbeddingModelFolder model, IReadOnlyDictionary<string, string> lastTexts)
    {
        using var session = new EmbeddingSession(model);
        await using var command = dataSource.CreateCommand($"SELECT id, embedding FROM {quotedTable} WHERE id = ANY($1)");
        command.Parameters.AddWithValue(lastTexts.Keys.ToArray());
        var checkedCount = 0;
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        while (await reader.ReadAsync(TestContext.Current.CancellationToken))
        {
            var id = reader.GetString(0);
            var stored = reader.GetFieldValue<Vector>(1).ToArray();
            var expected = session.Embed([lastTexts[id]], EmbeddingPurpose.Document)[0].Vector;
            Assert.All(stored.Zip(expected), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-5, $"{quotedTable} {id}: {p.First} vs {p.Second}"));
            checkedCount++;
        }

        Assert.Equal(lastTexts.Count, checkedCount);
    }
}
