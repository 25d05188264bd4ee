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

    /// <summary>The bearer token of search clients; it cannot drive rollouts.</summary>
    public string SearchToken { get; set; } = string.Empty;

    /// <summary>The operator token in effect: the setting, else the file's first line, else empty.</summary>
    public string EffectiveOperatorToken =>
        !string.IsNullOrEmpty(OperatorToken) ? OperatorToken
        : OperatorTokenFile is { Length: > 0 } file && File.Exists(file) ? File.ReadLines(file).FirstOrDefault()?.Trim() ?? string.Empty
        : string.Empty;
}
