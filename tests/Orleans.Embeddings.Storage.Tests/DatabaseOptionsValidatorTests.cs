namespace Orleans.Embeddings.Storage.Tests;

public sealed class DatabaseOptionsValidatorTests
{
    [Fact]
    public void Validate_MissingConnectionString_FailsNamingTheSetting()
    {
        var result = new DatabaseOptionsValidator().Validate(null, new DatabaseOptions());

        Assert.True(result.Failed);
        Assert.Contains("Embeddings:Database:ConnectionString is required", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UnknownKeyword_FailsWithoutEchoingTheValue()
    {
        var result = new DatabaseOptionsValidator().Validate(null, new DatabaseOptions { ConnectionString = "Host=127.0.0.1;Pasword=s3cret-value" });

        Assert.True(result.Failed);
        Assert.Contains("Embeddings:Database:ConnectionString is not a valid Npgsql connection string", result.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-value", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_WellFormedConnectionString_Succeeds()
    {
        var result = new DatabaseOptionsValidator().Validate(null, new DatabaseOptions { ConnectionString = "Host=127.0.0.1;Port=55432;Database=embeddings;Username=embeddings;Password=x" });

        Assert.True(result.Succeeded);
    }
}
