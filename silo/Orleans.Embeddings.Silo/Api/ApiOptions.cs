namespace Orleans.Embeddings.Silo.Api;

/// <summary>The silo's HTTP API (section <c>Embeddings:Api</c>): bearer tokens for operators and for search clients.</summary>
public sealed class ApiOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Embeddings:Api";

    /// <summary>The bearer token that drives rollouts and model registration; empty disables those endpoints (every call gets 401).</summary>
    public string OperatorToken { get; set; } = string.Empty;

    /// <summary>A file holding the operator token, read when <see cref="OperatorToken"/> is empty (what <c>infra/run.sh</c> generates).</summary>
    public string? OperatorTokenFile { get; set; }

    /// <summary>The bearer token of search clients; it cannot drive rollouts. Empty: only the operator token searches.</summary>
    public string SearchToken { get; set; } = string.Empty;

    /// <summary>A file holding the search token, read when <see cref="SearchToken"/> is empty (what <c>infra/run.sh</c> generates).</summary>
    public string? SearchTokenFile { get; set; }

    /// <summary>The search token in effect: the setting, else the file's first line, else empty.</summary>
    public string EffectiveSearchToken => Effective(SearchToken, SearchTokenFile);

    /// <summary>The operator token in effect: the setting, else the file's first line, else empty.</summary>
    public string EffectiveOperatorToken => Effective(OperatorToken, OperatorTokenFile);

    private static string Effective(string token, string? file) =>
        !string.IsNullOrEmpty(token) ? token
        : file is { Length: > 0 } && File.Exists(file) ? File.ReadLines(file).FirstOrDefault()?.Trim() ?? string.Empty
        : string.Empty;
}
