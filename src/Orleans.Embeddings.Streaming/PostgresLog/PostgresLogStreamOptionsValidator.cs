using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Orleans.Embeddings.Streaming.PostgresLog;

/// <summary>Fails start-up with a message naming the setting when a PostgreSQL-log provider is misconfigured.</summary>
public sealed partial class PostgresLogStreamOptionsValidator : IValidateOptions<PostgresLogStreamOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, PostgresLogStreamOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        const string section = PostgresLogStreamOptions.SectionName;
        if (name is not null && !ProviderName().IsMatch(name))
        {
            failures.Add($"The stream provider name '{name}' must match {ProviderName()}.");
        }

        if (options.QueueCount is < 1 or > 4096)
        {
            failures.Add($"{section}:{nameof(options.QueueCount)} must be between 1 and 4096 (was {options.QueueCount}).");
        }

        if (options.VisibilityTimeout < TimeSpan.FromSeconds(1))
        {
            failures.Add($"{section}:{nameof(options.VisibilityTimeout)} must be at least one second (was {options.VisibilityTimeout}).");
        }

        if (options.MaxAttempts < 1)
        {
            failures.Add($"{section}:{nameof(options.MaxAttempts)} must be at least 1 (was {options.MaxAttempts}).");
        }

        if (options.Retention < TimeSpan.Zero)
        {
            failures.Add($"{section}:{nameof(options.Retention)} must not be negative (was {options.Retention}).");
        }

        if (options.EvictionInterval <= TimeSpan.Zero || options.RescanInterval <= TimeSpan.Zero)
        {
            failures.Add($"{section}:{nameof(options.EvictionInterval)} and {nameof(options.RescanInterval)} must be positive.");
        }

        if (options.Limits is null || options.Limits.MaxIdBytes < 1 || options.Limits.MaxContentBytes < 1 || options.Limits.MaxMetadataBytes < 2)
        {
            failures.Add($"{section}:{nameof(options.Limits)} must give positive MaxIdBytes, MaxContentBytes and MaxMetadataBytes.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="provider"/> is a valid provider name.</summary>
    public static void ValidateProviderName(string provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        if (!ProviderName().IsMatch(provider))
        {
            throw new ArgumentException($"The stream provider name '{provider}' must match {ProviderName()}.", nameof(provider));
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]
    private static partial Regex ProviderName();
}
