using Orleans.Embeddings.Storage.Documents;
using Orleans.Embeddings.Storage.Reconciliation;
using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Storage.Tests.Reconciliation;

public sealed class ReconciliationQueriesTests(MigratedPostgresDatabase database) : IClassFixture<MigratedPostgresDatabase>
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Pages_FindExactlyTheMissingStaleAndUndeletedSets_AndConvergeOnceWritten()
    {
        var collection = $"r{Guid.NewGuid():N}"[..12];
        var table = await new CollectionCatalog(database.DataSource).RegisterVersionAsync(collection, "v2", 4, VectorElementType.Vector, DistanceMetric.Cosine, Cancellation);
        var documents = new DocumentStore(database.DataSource);
        var writer = new EmbeddingTableWriter(database.DataSource);
        var queries = new ReconciliationQueries(database.DataSource);
        var random = new Random(3);

        // 1000 documents at seq 2. The version holds: 0-399 current, 400-599 stale (seq 1), 600-999 missing.
        // 0-49 are then deleted at seq 3 (their rows are live: undeleted), and 600-619 deleted too (missing but deleted: nothing to do).
        await documents.UpsertManyAsync(collection, [.. Enumerable.Range(0, 1000).Select(i => new DocumentUpsert(Id(i), 2, $"text {i}"))], Cancellation);
        await writer.WriteAsync(table, [.. Enumerable.Range(0, 400).Select(i => EmbeddingRow.Upsert(Id(i), 2, RandomVectors.Unit(random, 4)))], Cancellation);
        await writer.WriteAsync(table, [.. Enumerable.Range(400, 200).Select(i => EmbeddingRow.Upsert(Id(i), 1, RandomVectors.Unit(random, 4)))], Cancellation);
        await documents.UpsertManyAsync(collection, [.. Enumerable.Range(0, 50).Concat(Enumerable.Range(600, 20)).Select(i => new DocumentUpsert(Id(i), 3, null))], Cancellation);

        Assert.Equal(new VersionDivergence(Missing: 380, Stale: 200, Undeleted: 50), await queries.CountDivergenceAsync(table, Cancellation));

        var pending = await ReadAllAsync((shard, after) => queries.ReadPendingDocumentsAsync(table, shard, after, 7, null, Cancellation), d => d.Id);
        var tombstones = await ReadAllAsync((shard, after) => queries.ReadPendingTombstonesAsync(table, shard, after, 7, null, Cancellation), t => t.Id);

        var expectedPending = Enumerable.Range(400, 200).Concat(Enumerable.Range(620, 380)).Select(Id).Order(StringComparer.Ordinal);
        Assert.Equal(expectedPending, pending.Select(d => d.Id).Order(StringComparer.Ordinal));
        Assert.All(pending, d => Assert.Equal(2, d.Seq));
        Assert.Equal(Enumerable.Range(0, 50).Select(Id).Order(StringComparer.Ordinal), tombstones.Select(t => t.Id).Order(StringComparer.Ordinal));
        Assert.All(tombstones, t => Assert.Equal(3, t.Seq));

        await writer.WriteAsync(table, [.. pending.Select(d => EmbeddingRow.Upsert(d.Id, d.Seq, RandomVectors.Unit(random, 4), d.MetadataJson))], Cancellation);
        await writer.WriteAsync(table, [.. tombstones.Select(t => EmbeddingRow.Tombstone(t.Id, t.Seq))], Cancellation);

        var after = await queries.CountDivergenceAsync(table, Cancellation);
        Assert.True(after.IsConverged, after.ToString());
    }

    private static string Id(int i) => $"doc-{i:D4}";

    private static async Task<List<T>> ReadAllAsync<T>(Func<int, string?, Task<IReadOnlyList<T>>> readPage, Func<T, string> id)
    {
        var all = new List<T>();
        for (var shard = 0; shard < DocumentStore.ShardCount; shard++)
        {
            string? cursor = null;
            while (true)
            {
                var page = await readPage(shard, cursor);
                if (page.Count == 0)
                {
                    break;
                }

                all.AddRange(page);
                cursor = id(page[^1]);
            }
        }

        return all;
    }
}
