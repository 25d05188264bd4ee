using Microsoft.Extensions.Options;

namespace Orleans.Embeddings.Streaming.Kafka;

/// <summary>Fails start-up with a message naming the setting when a Kafka provider is misconfigured.</summary>
public sealed class KafkaStreamOptionsValidator : IValidateOptions<KafkaStreamOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, KafkaStreamOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string section = KafkaStreamOptions.SectionName;
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.BootstrapServers))
        {
            failures.Add($"{section}:{nameof(options.BootstrapServers)} is required (host:port of the brokers; for Event Hubs <namespace>.servicebus.windows.net:9093).");
        }

        if (string.IsNullOrWhiteSpace(options.Topic))
        {
            failures.Add($"{section}:{nameof(options.Topic)} is required.");
        }

        if (options.Partitions is < 1 or > 4096)
        {
            failures.Add($"{section}:{nameof(options.Partitions)} must be between 1 and 4096 (was {options.Partitions}).");
        }

        if (string.IsNullOrWhiteSpace(options.ConsumerGroup))
        {
            failures.Add($"{section}:{nameof(options.ConsumerGroup)} is required.");
        }

        foreach (var key in KafkaClientConfig.ManagedKeys)
        {
            if (options.Config.ContainsKey(key))
            {
                failures.Add($"{section}:{nameof(options.Config)} must not set '{key}': the provider sets it to keep delivery at-least-once and ordered.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
