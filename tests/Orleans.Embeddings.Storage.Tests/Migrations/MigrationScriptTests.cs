using Orleans.Embeddings.Storage.Migrations;

namespace Orleans.Embeddings.Storage.Tests.Migrations;

public sealed class MigrationScriptTests
{
    [Fact]
    public void FromFile_WellFormedName_ParsesVersionAndName()
    {
        var script = MigrationScript.FromFile("0042_add_documents.sql", "SELECT 1");

        Assert.Equal(42, script.Version);
        Assert.Equal("add_documents", script.Name);
        Assert.Equal(64, script.Checksum.Length);
    }

    [Theory]
    [InlineData("42_add.sql")]
    [InlineData("0042-add.sql")]
    [InlineData("0042_Add.sql")]
    [InlineData("0042_add.txt")]
    public void FromFile_MalformedName_ThrowsNamingTheFile(string fileName)
    {
        var error = Assert.Throws<ArgumentException>(() => MigrationScript.FromFile(fileName, "SELECT 1"));

        Assert.Contains(fileName, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void All_EmbeddedMigrations_AreOrderedUniqueAndIncludeClustering()
    {
        var versions = EmbeddedMigrations.All.Select(m => m.Version).ToList();

        Assert.Equal(versions.Order(), versions);
        Assert.Equal(versions.Distinct().Count(), versions.Count);
        Assert.Contains(EmbeddedMigrations.All, m => m.Name == "orleans_clustering");
    }
}
