using System.Net;
using Microsoft.Extensions.Options;

namespace Orleans.Configuration;

/// <summary>Fails start-up with a message naming the setting when the cluster options are unusable.</summary>
public sealed class EmbeddingsClusterOptionsValidator : IValidateOptions<EmbeddingsClusterOptions>
{
    private const string Section = EmbeddingsClusterOptions.SectionName;

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, EmbeddingsClusterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (!Enum.IsDefined(options.Clustering))
        {
            failures.Add($"{Section}:Clustering must be Localhost or AdoNet.");
        }

        if (string.IsNullOrWhiteSpace(options.ClusterId))
        {
            failures.Add($"{Section}:ClusterId must not be empty.");
        }

        if (string.IsNullOrWhiteSpace(options.ServiceId))
        {
            failures.Add($"{Section}:ServiceId must not be empty.");
        }

        CheckPort(failures, nameof(options.SiloPort), options.SiloPort);
        CheckPort(failures, nameof(options.GatewayPort), options.GatewayPort);
        if (options.SiloPort == options.GatewayPort)
        {
            failures.Add($"{Section}:SiloPort and {Section}:GatewayPort must differ (both are {options.SiloPort}).");
        }

        if (options.PrimarySiloPort is { } primary)
        {
            CheckPort(failures, nameof(options.PrimarySiloPort), primary);
            if (options.Clustering != ClusteringMode.Localhost)
            {
                failures.Add($"{Section}:PrimarySiloPort applies only to Localhost clustering; remove it for AdoNet.");
            }
        }

        if (!string.IsNullOrWhiteSpace(options.AdvertisedAddress) && !IPAddress.TryParse(options.AdvertisedAddress, out _))
        {
            failures.Add($"{Section}:AdvertisedAddress '{options.AdvertisedAddress}' is not an IP address.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckPort(List<string> failures, string setting, int port)
    {
        if (port is < 1 or > 65535)
        {
            failures.Add($"{Section}:{setting} must be between 1 and 65535 (was {port}).");
        }
    }
}
