using Npgsql;

namespace Orleans.Embeddings.Storage.Tests;

public sealed class PostgresFailuresTests
{
    [Theory]
    [InlineData("57P01", true)] // terminating connection due to administrator command (pg_terminate_backend)
    [InlineData("57P02", true)] // crash shutdown
    [InlineData("08006", true)] // connection failure
    [InlineData("42P01", false)] // undefined table: the statement is wrong, repeating it fails again
    [InlineData("23505", false)] // unique violation
    public void IsConnectionLoss_PostgresErrorWrappedAsATaskFailure_ByItsSqlStateClass(string sqlState, bool expected)
    {
        var failure = new AggregateException(new PostgresException("failed", "FATAL", "FATAL", sqlState));

        Assert.Equal(expected, PostgresFailures.IsConnectionLoss(failure));
    }

    [Fact]
    public void IsConnectionLoss_NetworkFailureOrUnrelatedException_TrueOnlyForTheNetwork()
    {
        Assert.True(PostgresFailures.IsConnectionLoss(new NpgsqlException("Exception while reading from stream", new EndOfStreamException())));
        Assert.False(PostgresFailures.IsConnectionLoss(new InvalidOperationException("not a database failure")));
        Assert.False(PostgresFailures.IsConnectionLoss(null));
    }
}
