using System.Text.Json;

namespace Orleans.Embeddings.Storage;

/// <summary>
/// PostgreSQL's <c>text</c> and <c>jsonb</c> cannot hold NUL (U+0000): a value with one fails the whole statement. Input
/// that will be stored or compared in the database is checked here, once, the same way everywhere.
/// </summary>
public static class PostgresText
{
    /// <summary>Whether <paramref name="text"/> holds NUL.</summary>
    public static bool ContainsNul(string? text) => text?.Contains('\0', StringComparison.Ordinal) == true;

    /// <summary>Whether any property name or string value in <paramref name="element"/> holds NUL.</summary>
    public static bool HoldsNul(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => ContainsNul(element.GetString()),
        JsonValueKind.Array => element.EnumerateArray().Any(HoldsNul),
        JsonValueKind.Object => element.EnumerateObject().Any(p => ContainsNul(p.Name) || HoldsNul(p.Value)),
        _ => false,
    };

    /// <summary><paramref name="text"/> with every NUL replaced by U+FFFD, for text that must be written whatever it holds.</summary>
    public static string? ReplaceNul(string? text) => text?.Replace('\0', '\uFFFD');
}
