using Microsoft.Extensions.Options;
using Npgsql;

namespace Orleans.Embeddings.Storage;

/// <summary>Fails start-up with a message naming the setting when the database options are unusable.</summary>
public sealed class DatabaseOptionsValidator : IValidateOptions<DatabaseOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string setting = DatabaseOptions.SectionName + ":" + nameof(DatabaseOptions.ConnectionString);
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            return ValidateOptionsResult.Fail(
                $"{setting} is required: set it in appsettings.json or as the environment variable Embeddings__Database__ConnectionString " +
                "(infra/postgres/setup.sh prints the one for the local cluster).");
        }

        try
        {
            var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString);
            if (string.IsNullOrWhiteSpace(builder.Host))
            {
                return ValidateOptionsResult.Fail($"{setting} names no Host.");
            }
        }
        catch (ArgumentException ex)
        {
            // The message of the exception names the bad keyword, never the value, so no secret leaks.
            return ValidateOptionsResult.Fail($"{setting} is not a valid Npgsql connection string: {ex.Message}");
        }

        return ValidateOptionsResult.Success;
    }
}
