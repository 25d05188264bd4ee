using System.Globalization;
using System.Text.Json;

namespace Orleans.Embeddings.Search;

/// <summary>How a <see cref="SearchFilter"/> compares.</summary>
public enum SearchFilterKind
{
    /// <summary>The field equals a JSON value.</summary>
    Equal,

    /// <summary>The field equals one of a JSON array's values.</summary>
    In,

    /// <summary>The field is a number within inclusive bounds.</summary>
    Range,
}

/// <summary>
/// A condition on one top-level field of a document's metadata; the filters of a search are combined with AND.
/// Written as text (CLI <c>--filter</c>, HTTP <c>filter=</c>): <c>field=text</c> compares with a string,
/// <c>field:=json</c> with a JSON value (<c>year:=2024</c>, <c>draft:=false</c>, <c>tag:=["a","b"]</c> for any of a list),
/// <c>field&gt;=number</c> and <c>field&lt;=number</c> bound a number.
/// </summary>
/// <param name="Field">The metadata field.</param>
/// <param name="Kind">How it compares.</param>
/// <param name="ValueJson">The value (Equal) or the array of values (In) as JSON text; null for Range.</param>
/// <param name="Min">The inclusive lower bound (Range), or null.</param>
/// <param name="Max">The inclusive upper bound (Range), or null.</param>
[GenerateSerializer, Immutable]
public sealed record SearchFilter(
    [property: Id(0)] string Field,
    [property: Id(1)] SearchFilterKind Kind,
    [property: Id(2)] string? ValueJson,
    [property: Id(3)] double? Min,
    [property: Id(4)] double? Max)
{
    /// <summary>The field equals <paramref name="value"/> (a string, number, boolean or null).</summary>
    public static SearchFilter Equal(string field, object? value) => new(CheckField(field), SearchFilterKind.Equal, JsonSerializer.Serialize(value), null, null);

    /// <summary>The field equals one of <paramref name="values"/>.</summary>
    public static SearchFilter In(string field, IEnumerable<object?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var list = values.ToList();
        return list.Count == 0
            ? throw new ArgumentException($"The filter on '{field}' needs at least one value.", nameof(values))
            : new SearchFilter(CheckField(field), SearchFilterKind.In, JsonSerializer.Serialize(list), null, null);
    }

    /// <summary>The field is a number within [<paramref name="min"/>, <paramref name="max"/>]; either bound may be open.</summary>
    public static SearchFilter Range(string field, double? min, double? max) =>
        min is null && max is null ? throw new ArgumentException($"The range filter on '{field}' needs a minimum, a maximum or both.", nameof(min))
        : min > max ? throw new ArgumentException($"The range filter on '{field}' has a minimum ({min}) above its maximum ({max}).", nameof(min))
        : new SearchFilter(CheckField(field), SearchFilterKind.Range, null, min, max);

    /// <summary>Parses the text form (see the type's summary).</summary>
    /// <exception cref="FormatException">The text is not a filter; the message says why.</exception>
    public static SearchFilter Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var at = text.IndexOfAny(['=', '>', '<', ':']);
        if (at <= 0)
        {
            throw new FormatException($"Filter '{text}' is not field=text, field:=json, field>=number or field<=number.");
        }

        var field = text[..at];
        var rest = text[at..];
        try
        {
            if (rest.StartsWith(":=", StringComparison.Ordinal))
            {
                using var json = JsonDocument.Parse(rest[2..]);
                return json.RootElement.ValueKind == JsonValueKind.Array
                    ? In(field, json.RootElement.EnumerateArray().Select(e => (object?)e.Clone()))
                    : Equal(field, json.RootElement.Clone());
            }

            if (rest.StartsWith(">=", StringComparison.Ordinal) || rest.StartsWith("<=", StringComparison.Ordinal))
            {
                if (!double.TryParse(rest[2..], NumberStyles.Float, CultureInfo.InvariantCulture, out var bound) || !double.IsFinite(bound))
                {
                    throw new FormatException($"Filter '{text}': '{rest[2..]}' is not a number.");
                }

                return rest[0] == '>' ? Range(field, bound, null) : Range(field, null, bound);
            }

            return rest[0] == '='
                ? Equal(field, rest[1..])
                : throw new FormatException($"Filter '{text}' is not field=text, field:=json, field>=number or field<=number.");
        }
        catch (JsonException ex)
        {
            throw new FormatException($"Filter '{text}': the value after := is not JSON ({ex.Message}).", ex);
        }
        catch (ArgumentException ex)
        {
            throw new FormatException($"Filter '{text}': {ex.Message}", ex);
        }
    }

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        SearchFilterKind.Range when Min is { } min && Max is { } max => string.Create(CultureInfo.InvariantCulture, $"{min} <= {Field} <= {max}"),
        SearchFilterKind.Range when Min is { } min => string.Create(CultureInfo.InvariantCulture, $"{Field} >= {min}"),
        SearchFilterKind.Range => string.Create(CultureInfo.InvariantCulture, $"{Field} <= {Max}"),
        SearchFilterKind.In => $"{Field} in {ValueJson}",
        _ => $"{Field} = {ValueJson}",
    };

    private static string CheckField(string field) =>
        string.IsNullOrEmpty(field) ? throw new ArgumentException("A filter needs a field name.", nameof(field)) : field;
}
