using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Storage.Tests.Vectors;

public sealed class HnswIndexBuilderTests(MigratedPostgresDatabase database) : IClassFixture<MigratedPostgresDatabase>
{
    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task BuildAsync_ConnectionTerminatedMidBuild_FailsAsAConnectionLossAndBuildsOnTheNextCall()
    {
        var table = await new CollectionCatalog(database.DataSource).RegisterVersionAsync($"h{Guid.NewGuid():N}"[..12], "v1", 128, VectorElementType.Vector, DistanceMetric.Cosine, Cancellation);
        var random = new Random(3);
        var writer = new EmbeddingTableWriter(database.DataSource);
        foreach (var chunk in Enumerable.Range(0, 30_000).Chunk(2000))
        {
            await writer.WriteAsync(table, [.. chunk.Select(i => EmbeddingRow.Upsert($"d{i}", 1, RandomVectors.Unit(random, 128), "{}"))], Cancellation);
        }

        var builder = new HnswIndexBuilder(database.DataSource);
        var build = builder.BuildAsync(table, new HnswIndexOptions { MaxParallelMaintenanceWorkers = 0 }, Cancellation);
        var terminated = false;
        while (!build.IsCompleted && !terminated)
        {
            await using var kill = database.DataSource.CreateCommand(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'CREATE INDEX CONCURRENTLY%' AND pid <> pg_backend_pid()");
            terminated = (long)(await kill.ExecuteScalarAsync(Cancellation))! > 0;
            await Task.Delay(terminated ? 0 : 20, Cancellation);
        }

        Assert.True(terminated, "the build finished before it could be terminated");
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => build);
        Assert.True(PostgresFailures.IsConnectionLoss(failure), $"not read as a connection loss: {failure}");
        Assert.False(await builder.HasIndexAsync(table, Cancellation));

        await builder.BuildAsync(table, cancellationToken: Cancellation); // drops the invalid index the broken build left

        Assert.True(await builder.HasIndexAsync(table, Cancellation));
    }
}
