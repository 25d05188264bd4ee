using Npgsql;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Storage.Search;
using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Tests.Indexing;

/// <summary>The whole path on two silos: event → document grain → worker on a device → pgvector.</summary>
public sealed class IndexingPipelineTests(IndexerCluster indexer) : IClassFixture<IndexerCluster>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Workers_for_a_silos_devices_activate_only_on_that_silo()
    {
        await indexer.CreateCollectionAsync("placement");
        foreach (var silo in indexer.Cluster.GetActiveSilos())
        {
            var statistics = await indexer.Worker("placement", "v1", silo.Name).GetStatisticsAsync();
            Assert.Equal(silo.Name, statistics.Silo);
            Assert.Equal("cpu", statistics.Device);
        }

        var missing = await Assert.ThrowsAnyAsync<Exception>(() => indexer.Worker("placement", "v1", "no-such-silo").GetStatisticsAsync());
        Assert.Contains("no-such-silo", missing.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Five_thousand_events_end_to_end_are_searchable_by_their_exact_text_with_the_right_seq()
    {
        const int documents = 5000;
        var table = await indexer.CreateCollectionAsync("e2e");
        await using var publisher = indexer.CreatePublisher();
        var changes = Enumerable.Range(0, documents)
            .Select(i => new DocumentChange("e2e", $"d{i}", DocumentOperation.Upsert, 10 + (i % 3), IndexerCluster.Text(i), $"{{\"n\":{i}}}"))
            .ToList();
        await publisher.PublishManyAsync(changes, Ct);
        await indexer.WaitForAsync($"SELECT count(*) FROM {table.QuotedTable} WHERE $1::text IS NOT NULL", "x", documents, TimeSpan.FromSeconds(120));

        var search = new VectorSearch(indexer.DataSource);
        var anyWorker = indexer.Worker("e2e", "v1", indexer.Cluster.Silos[0].Name);
        foreach (var i in Enumerable.Range(0, 40).Select(k => k * 125))
        {
            var query = await anyWorker.EmbedQueryAsync(IndexerCluster.Text(i));
            var top = (await search.SearchAsync(table, new VectorSearchRequest(query, 3), Ct))[0];
            Assert.Equal($"d{i}", top.Id);
            Assert.Equal("v1", top.Version);
            Assert.Equal(10 + (i % 3), await SeqAsync(table, $"d{i}"));
        }
    }

    [Fact]
    public async Task A_metadata_only_update_does_not_call_the_model()
    {
        var table = await indexer.CreateCollectionAsync("meta");
        await using var publisher = indexer.CreatePublisher();
        await publisher.PublishAsync(new DocumentChange("meta", "m1", DocumentOperation.Upsert, 1, IndexerCluster.Text(1), """{"tag":"old"}"""), Ct);
        await indexer.WaitForAsync($"SELECT count(*) FROM {table.QuotedTable} WHERE id = $1", "m1", 1, TimeSpan.FromSeconds(30));
        var before = await indexer.TotalsAsync(indexer.Cluster, "meta", "v1");

        await publisher.PublishAsync(new DocumentChange("meta", "m1", DocumentOperation.Upsert, 2, IndexerCluster.Text(1), """{"tag":"new"}"""), Ct);
        await indexer.WaitForAsync($"SELECT count(*) FROM {table.QuotedTable} WHERE id = $1 AND seq = 2 AND metadata->>'tag' = 'new'", "m1", 1, TimeSpan.FromSeconds(30));

        // The worker counts the update just after its commit, which the query above may see first.
        var after = await indexer.TotalsAsync(indexer.Cluster, "meta", "v1");
        for (var attempt = 0; attempt < 50 && after.Metadata == before.Metadata; attempt++)
        {
            await Task.Delay(100, Ct);
            after = await indexer.TotalsAsync(indexer.Cluster, "meta", "v1");
        }

        Assert.Equal(before.Texts, after.Texts);
        Assert.Equal(before.Metadata + 1, after.Metadata);

        await publisher.PublishAsync(new DocumentChange("meta", "m1", DocumentOperation.Upsert, 3, IndexerCluster.Text(2), """{"tag":"new"}"""), Ct);
        await indexer.WaitForAsync($"SELECT count(*) FROM {table.QuotedTable} WHERE id = $1 AND seq = 3", "m1", 1, TimeSpan.FromSeconds(30));
        Assert.Equal(before.Texts + 1, (await indexer.TotalsAsync(indexer.Cluster, "meta", "v1")).Texts);
    }

    [Fact]
    public async Task A_redelivered_change_already_written_is_not_embedded_again()
    {
        var table = await indexer.CreateCollectionAsync("redeliver");
        await using var publisher = indexer.CreatePublisher();
        var change = new DocumentChange("redeliver", "r1", DocumentOperation.Upsert, 5, IndexerCluster.Text(5), "{}");
        await publisher.PublishAsync(change, Ct);
        await indexer.WaitForAsync($"SELECT count(*) FROM {table.QuotedTable} WHERE id = $1 AND seq = 5", "r1", 1, TimeSpan.FromSeconds(30));
        var before = await indexer.TotalsAsync(indexer.Cluster, "redeliver", "v1");

        // The same change again (what a redelivery after a crash looks like to the document grain).
        await publisher.PublishAsync(change, Ct);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        long skipped = 0;
        while (skipped == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, Ct);
            skipped = 0;
            foreach (var silo in indexer.Cluster.GetActiveSilos())
            {
                skipped += (await indexer.Worker("redeliver", "v1", silo.Name).GetStatisticsAsync()).RedeliveriesSkipped;
            }
        }

        Assert.Equal(1, skipped);
        Assert.Equal(before.Texts, (await indexer.TotalsAsync(indexer.Cluster, "redeliver", "v1")).Texts);
    }

    [Fact]
    public async Task Deletes_remove_hits_and_an_older_change_does_not_bring_them_back()
    {
        var table = await indexer.CreateCollectionAsync("deletes");
        await using var publisher = indexer.CreatePublisher();
        await publisher.PublishManyAsync(
            [.. Enumerable.Range(0, 10).Select(i => new DocumentChange("deletes", $"x{i}", DocumentOperation.Upsert, 1, IndexerCluster.Text(i), "{}"))], Ct);
        await indexer.WaitForAsync($"SELECT count(*) FROM {table.QuotedTable} WHERE $1::text IS NOT NULL", "x", 10, TimeSpan.FromSeconds(30));

        await publisher.PublishManyAsync([.. Enumerable.Range(0, 5).Select(i => new DocumentChange("deletes", $"x{i}", DocumentOperation.Delete, 2, null, "{}"))], Ct);
        await publisher.PublishAsync(new DocumentChange("deletes", "x0", DocumentOperation.Upsert, 1, IndexerCluster.Text(0), "{}"), Ct);
        await indexer.WaitForAsync($"SELECT count(*) FROM {table.QuotedTable} WHERE deleted AND $1::text IS NOT NULL", "x", 5, TimeSpan.FromSeconds(30));

        var query = await indexer.Worker("deletes", "v1", indexer.Cluster.Silos[1].Name).EmbedQueryAsync(IndexerCluster.Text(0));
        var hits = await new VectorSearch(indexer.DataSource).SearchAsync(table, new VectorSearchRequest(query, 10), Ct);
        Assert.Equal(5, hits.Count);
        Assert.All(hits, h => Assert.DoesNotContain(h.Id, new[] { "x0", "x1", "x2", "x3", "x4" }));
    }

    [Fact]
    public async Task Every_silo_acknowledges_a_routing_change_soon_after_it_is_pushed()
    {
        await indexer.CreateCollectionAsync("routing");
        var store = new Storage.Routing.RoutingStore(indexer.DataSource);
        var silos = indexer.Cluster.GetActiveSilos().Select(s => s.Name).ToList();
        await WaitForAcksAsync(store, "routing", silos, 1);

        var current = (await store.GetAsync("routing", Ct))!;
        var next = await store.SetAsync("routing", current.Epoch, ["v1"], new Dictionary<string, int> { ["v1"] = 100 }, Ct);
        Assert.Equal(2, next!.Epoch);
        Assert.Null(await store.SetAsync("routing", current.Epoch, ["v1"], new Dictionary<string, int> { ["v1"] = 100 }, Ct));

        // Pushed by NOTIFY: well before the one-second poll could matter, every silo routes by epoch 2.
        await WaitForAcksAsync(store, "routing", silos, 2);
    }

    private static async Task WaitForAcksAsync(Storage.Routing.RoutingStore store, string collection, List<string> silos, long epoch)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        IReadOnlyDictionary<string, long> acks = new Dictionary<string, long>();
        while (DateTime.UtcNow < deadline)
        {
            acks = await store.GetAcknowledgementsAsync(collection, Ct);
            if (silos.All(s => acks.TryGetValue(s, out var acked) && acked >= epoch))
            {
                return;
            }

            await Task.Delay(50, Ct);
        }

        Assert.Fail($"Not every silo acknowledged epoch {epoch} of {collection}: {string.Join(", ", acks.Select(a => $"{a.Key}={a.Value}"))}");
    }

    private async Task<long> SeqAsync(VersionTable table, string id)
    {
        await using var command = indexer.DataSource.CreateCommand($"SELECT seq FROM {table.QuotedTable} WHERE id = $1");
        command.Parameters.AddWithValue(id);
        return (long)(await command.ExecuteScalarAsync(Ct))!;
    }
}
