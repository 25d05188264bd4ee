using Microsoft.Extensions.Options;

namespace Orleans.Embeddings.Silo.Api;

/// <summary>Refuses tokens too short to be secrets, and one token used for both roles.</summary>
public sealed class ApiOptionsValidator : IValidateOptions<ApiOptions>
{
    /// <summary>The shortest token accepted.</summary>
    public const int MinimumTokenLength = 16;

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, ApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        var operatorToken = options.EffectiveOperatorToken;
        if (operatorToken.Length is > 0 and < MinimumTokenLength)
        {
            failures.Add($"{ApiOptions.SectionName}:{nameof(ApiOptions.OperatorToken)} must be at least {MinimumTokenLength} characters.");
        }

        var searchToken = options.EffectiveSearchToken;
        if (searchToken.Length is > 0 and < MinimumTokenLength)
        {
            failures.Add($"{ApiOptions.SectionName}:{nameof(ApiOptions.SearchToken)} must be at least {MinimumTokenLength} characters.");
        }

        if (operatorToken.Length > 0 && operatorToken == searchToken)
        {
            failures.Add($"{ApiOptions.SectionName}: the operator and search tokens must differ.");
        }

        if (!string.IsNullOrEmpty(options.OperatorTokenFile) && string.IsNullOrEmpty(options.OperatorToken) && !File.Exists(options.OperatorTokenFile))
        {
            failures.Add($"{ApiOptions.SectionName}:{nameof(ApiOptions.OperatorTokenFile)} names {options.OperatorTokenFile}, which does not exist.");
        }

        if (!string.IsNullOrEmpty(options.SearchTokenFile) && string.IsNullOrEmpty(options.SearchToken) && !File.Exists(options.SearchTokenFile))
        {
            failures.Add($"{ApiOptions.SectionName}:{nameof(ApiOptions.SearchTokenFile)} names {options.SearchTokenFile}, which does not exist.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
