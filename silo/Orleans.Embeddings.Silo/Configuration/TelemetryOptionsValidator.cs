using Microsoft.Extensions.Options;

namespace Orleans.Embeddings.Silo.Configuration;

/// <summary>Validates <see cref="TelemetryOptions"/>.</summary>
public sealed class TelemetryOptionsValidator : IValidateOptions<TelemetryOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, TelemetryOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (!string.IsNullOrEmpty(options.PrometheusPath) && !options.PrometheusPath.StartsWith('/'))
        {
            failures.Add($"{TelemetryOptions.SectionName}:PrometheusPath must start with '/' (was '{options.PrometheusPath}').");
        }

        if (options.OtlpEndpoint is { } endpoint && (!endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps)))
        {
            failures.Add($"{TelemetryOptions.SectionName}:OtlpEndpoint must be an absolute http(s) URI (was '{endpoint}').");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
