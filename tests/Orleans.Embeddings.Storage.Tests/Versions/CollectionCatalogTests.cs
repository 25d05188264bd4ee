using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Storage.Tests.Versions;

public sealed class CollectionCatalogTests(MigratedPostgresDatabase database) : IClassFixture<MigratedPostgresDatabase>
{
    private readonly CollectionCatalog _catalog = new(database.DataSource);

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RegisterVersionAsync_SameShapeTwice_IsANoOpAndListsOnce()
    {
        var first = await _catalog.RegisterVersionAsync("catalog-a", "v1", 16, VectorElementType.HalfVec, DistanceMetric.InnerProduct, Cancellation);
        var second = await _catalog.RegisterVersionAsync("catalog-a", "v1", 16, VectorElementType.HalfVec, DistanceMetric.InnerProduct, Cancellation);

        Assert.Equal(first, second);
        Assert.Equal([first], await _catalog.ListVersionsAsync("catalog-a", Cancellation));
        Assert.Equal(first, await _catalog.GetVersionAsync("catalog-a", "v1", Cancellation));
    }

    [Fact]
    public async Task RegisterVersionAsync_ExistingVersionWithOtherDimensions_FailsNamingBoth()
    {
        await _catalog.RegisterVersionAsync("catalog-b", "v1", 16, VectorElementType.Vector, DistanceMetric.Cosine, Cancellation);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            _catalog.RegisterVersionAsync("catalog-b", "v1", 32, VectorElementType.Vector, DistanceMetric.Cosine, Cancellation));

        Assert.Contains("already registered as vector(16)", error.Message, StringComparison.Ordinal);
        Assert.Contains("re-registered as vector(32)", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Bad", "v1", "collection")]
    [InlineData("ok", "v1; DROP TABLE embeddings_documents", "version")]
    [InlineData("ok", "", "version")]
    public async Task RegisterVersionAsync_BadName_IsRejectedBeforeAnySql(string collection, string version, string kind)
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            _catalog.RegisterVersionAsync(collection, version, 4, VectorElementType.Vector, DistanceMetric.Cosine, Cancellation));

        Assert.Contains($"Invalid {kind} name", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SetModelPathsAsync_TokenizerRevision_IsReadBackWithThePaths()
    {
        await _catalog.RegisterVersionAsync("catalog-tok", "v1", 4, VectorElementType.Vector, DistanceMetric.Cosine, Cancellation);
        Assert.Equal((null, null, "bert-hf"), await _catalog.GetModelPathsAsync("catalog-tok", "v1", Cancellation));

        await _catalog.SetModelPathsAsync("catalog-tok", "v1", "/models/doc", "/models/query", "mltokenizers-bert-2.0", Cancellation);

        Assert.Equal(("/models/doc", "/models/query", "mltokenizers-bert-2.0"), await _catalog.GetModelPathsAsync("catalog-tok", "v1", Cancellation));
        Assert.Equal((null, null, null), await _catalog.GetModelPathsAsync("catalog-tok", "missing", Cancellation));
    }

    [Fact]
    public async Task DropVersionAsync_DropsTheTableAndIsIdempotent()
    {
        var table = await _catalog.RegisterVersionAsync("catalog-c", "old", 4, VectorElementType.Vector, DistanceMetric.L2, Cancellation);

        await _catalog.DropVersionAsync("catalog-c", "old", Cancellation);
        await _catalog.DropVersionAsync("catalog-c", "old", Cancellation);

        Assert.Null(await _catalog.GetVersionAsync("catalog-c", "old", Cancellation));
        await using var command = database.DataSource.CreateCommand("SELECT to_regclass(@t) IS NULL");
        command.Parameters.AddWithValue("t", table.TableName);
        Assert.Equal(true, await command.ExecuteScalarAsync(Cancellation));
    }
}
