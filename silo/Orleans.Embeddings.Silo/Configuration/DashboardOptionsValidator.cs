using Microsoft.Extensions.Options;

namespace Orleans.Embeddings.Silo.Configuration;

/// <summary>Validates <see cref="DashboardOptions"/>.</summary>
public sealed class DashboardOptionsValidator : IValidateOptions<DashboardOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, DashboardOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Enabled && (string.IsNullOrWhiteSpace(options.RoutePrefix) || !options.RoutePrefix.StartsWith('/'))
            ? ValidateOptionsResult.Fail($"{DashboardOptions.SectionName}:RoutePrefix must start with '/' (was '{options.RoutePrefix}').")
            : ValidateOptionsResult.Success;
    }
}
