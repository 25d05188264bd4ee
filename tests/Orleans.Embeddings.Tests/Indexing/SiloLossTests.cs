using Orleans.Embeddings.Documents;

namespace Orleans.Embeddings.Tests.Indexing;

/// <summary>Ingest goes on when a silo dies: its workers leave the routing, its queues move, nothing is lost.</summary>
public sealed class SiloLossTests(IndexerCluster indexer) : IClassFixture<IndexerCluster>
{
    [Fact]
    public async Task Killing_silo_B_mid_ingest_loses_nothing()
    {
        const int documents = 1000;
        const int rounds = 4;
        var ct = TestContext.Current.CancellationToken;
        var table = await indexer.CreateCollectionAsync("loss");
        await using var publisher = indexer.CreatePublisher();
        var publishing = Task.Run(async () =>
        {
            for (var seq = 1; seq <= rounds; seq++)
            {
                await publisher.PublishManyAsync(
                    [.. Enumerable.Range(0, documents).Select(i => new DocumentChange("loss", $"l{i}", DocumentOperation.Upsert, seq, IndexerCluster.Text(i + seq), "{}"))], ct);
                await Task.Delay(250, ct);
            }
        }, ct);

        await indexer.WaitForAsync($"SELECT count(*) FROM {table.QuotedTable} WHERE $1::text IS NOT NULL", "x", documents / 2, TimeSpan.FromSeconds(60));
        await indexer.Cluster.KillSiloAsync(indexer.Cluster.Silos[1], ct);
        await publishing;

        // Every document ends at its last seq, with the vector of its last text.
        await indexer.WaitForAsync($"SELECT count(*) FROM {table.QuotedTable} WHERE seq = $1", (long)rounds, documents, TimeSpan.FromSeconds(120));
        await indexer.WaitForAsync($"SELECT count(*) FROM embeddings_documents WHERE collection = 'loss' AND seq = $1", (long)rounds, documents, TimeSpan.FromSeconds(10));
    }
}
