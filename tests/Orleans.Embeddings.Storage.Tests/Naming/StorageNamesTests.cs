using Orleans.Embeddings.Storage.Naming;

namespace Orleans.Embeddings.Storage.Tests.Naming;

public sealed class StorageNamesTests
{
    [Theory]
    [InlineData("docs")]
    [InlineData("0")]
    [InlineData("my-collection_2")]
    public void Validate_AllowedName_ReturnsIt(string name)
    {
        Assert.Equal(name, StorageNames.Validate(name, "collection"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Docs")]
    [InlineData("-docs")]
    [InlineData("docs;drop table x")]
    [InlineData("docs\"")]
    [InlineData("a234567890123456789012345678901234567890123456789012345678901234")]
    public void Validate_ForbiddenName_ThrowsNamingTheRule(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => StorageNames.Validate(name, "collection"));

        Assert.Contains("Invalid collection name", error.Message, StringComparison.Ordinal);
        Assert.Contains(StorageNames.NamePattern, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void VersionTableName_NamesDifferingInDashOrBeyondThePrefix_DoNotCollide()
    {
        var names = new[]
        {
            StorageNames.VersionTableName("a-b", "v1"),
            StorageNames.VersionTableName("a_b", "v1"),
            StorageNames.VersionTableName("collection-with-a-long-name-1", "v1"),
            StorageNames.VersionTableName("collection-with-a-long-name-2", "v1"),
        };

        Assert.Equal(names.Length, names.Distinct().Count());
        Assert.All(names, n => Assert.True(n.Length <= 63 - "_hnsw".Length, n));
    }

    [Fact]
    public void VersionTableName_LongestNames_FitPostgresIdentifiers()
    {
        var longest = new string('a', 63);

        var table = StorageNames.VersionTableName(longest, longest);

        Assert.True(StorageNames.HnswIndexName(table).Length <= 63);
    }

    [Fact]
    public void Quote_ArbitraryText_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => StorageNames.Quote("documents\"; DROP TABLE x; --"));
    }
}
