using Microsoft.Extensions.Options;
using Orleans.Embeddings.Inference.Sessions;

namespace Orleans.Embeddings.Hosting;

/// <summary>Fails start-up with a message naming the setting when the indexer options are unusable.</summary>
public sealed class IndexerOptionsValidator : IValidateOptions<IndexerOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, IndexerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string section = IndexerOptions.SectionName;
        var failures = new List<string>();
        foreach (var device in options.EffectiveDevices)
        {
            try
            {
                InferenceDevice.Parse(device);
            }
            catch (FormatException ex)
            {
                failures.Add($"{section}:{nameof(options.Devices)}: {ex.Message}");
            }
        }

        if (options.EffectiveDevices.Distinct(StringComparer.Ordinal).Count() != options.EffectiveDevices.Count)
        {
            failures.Add($"{section}:{nameof(options.Devices)} lists a device twice.");
        }

        if (!options.HostsWorkers && options.Devices.Count > 0)
        {
            failures.Add($"{section}:{nameof(options.Devices)} lists devices, but {section}:{nameof(options.HostsWorkers)} is false: a silo without workers owns no device.");
        }

        try
        {
            options.Batching.Validate();
        }
        catch (ArgumentException ex)
        {
            failures.Add($"{section}:{nameof(options.Batching)}: {ex.Message}");
        }

        if (options.MaxWriteBatch is < 1 or > 100_000)
        {
            failures.Add($"{section}:{nameof(options.MaxWriteBatch)} must be between 1 and 100000 (was {options.MaxWriteBatch}).");
        }

        if (options.RoutingPollInterval < TimeSpan.FromMilliseconds(100))
        {
            failures.Add($"{section}:{nameof(options.RoutingPollInterval)} must be at least 100 ms (was {options.RoutingPollInterval}).");
        }

        if (options.WorkerRetries < 0)
        {
            failures.Add($"{section}:{nameof(options.WorkerRetries)} must not be negative.");
        }

        failures.AddRange(options.Rollouts.Validate($"{section}:{nameof(options.Rollouts)}"));
        failures.AddRange(options.Search.Validate($"{section}:{nameof(options.Search)}"));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
