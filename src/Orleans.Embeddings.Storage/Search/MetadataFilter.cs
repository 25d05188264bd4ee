using System.Text.Json;

namespace Orleans.Embeddings.Storage.Search;

/// <summary>
/// A condition on one top-level field of a row's metadata. Filters of a search are combined with AND.
/// Field names and values are sent as query parameters, never spliced into SQL.
/// </summary>
public abstract record MetadataFilter
{
    private MetadataFilter(string field)
    {
        if (string.IsNullOrEmpty(field))
        {
            throw new ArgumentException("A metadata filter needs a field name.", nameof(field));
        }

        if (PostgresText.ContainsNul(field))
        {
            throw new ArgumentException("A metadata filter's field name cannot hold NUL (U+0000), which PostgreSQL cannot store.", nameof(field));
        }

        Field = field;
    }

    /// <summary>The metadata field the condition applies to.</summary>
    public string Field { get; }

    /// <summary>The field equals <paramref name="value"/> (a string, number, boolean or null; compared as JSON).</summary>
    public static MetadataFilter Equal(string field, object? value) => new EqualFilter(field, Serialize(field, value));

    /// <summary>The field equals one of <paramref name="values"/>.</summary>
    public static MetadataFilter In(string field, IEnumerable<object?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var list = values.ToList();
        return list.Count == 0
            ? throw new ArgumentException($"The IN filter on '{field}' needs at least one value.", nameof(values))
            : new InFilter(field, Serialize(field, list));
    }

    /// <summary>The field is a number within [<paramref name="min"/>, <paramref name="max"/>]; either bound may be open.</summary>
    public static MetadataFilter Range(string field, double? min, double? max) =>
        min is null && max is null
            ? throw new ArgumentException($"The range filter on '{field}' needs a minimum, a maximum or both.", nameof(min))
            : min > max
                ? throw new ArgumentException($"The range filter on '{field}' has a minimum ({min}) above its maximum ({max}).", nameof(min))
                : new RangeFilter(field, min, max);

    // The value (or list of values) as JSON, refused when a name or string in it holds NUL, which PostgreSQL cannot store.
    private static string Serialize(string field, object? values)
    {
        var json = JsonSerializer.SerializeToElement(values);
        return PostgresText.HoldsNul(json)
            ? throw new ArgumentException($"The filter on '{PostgresText.ReplaceNul(field)}' has a value holding NUL (U+0000), which PostgreSQL cannot store.", nameof(values))
            : json.GetRawText();
    }

    /// <summary>Equality, with the value as JSON text.</summary>
    public sealed record EqualFilter : MetadataFilter
    {
        internal EqualFilter(string field, string valueJson) : base(field) => ValueJson = valueJson;

        /// <summary>The value as JSON text.</summary>
        public string ValueJson { get; }
    }

    /// <summary>Membership, with the values as a JSON array.</summary>
    public sealed record InFilter : MetadataFilter
    {
        internal InFilter(string field, string valuesJson) : base(field) => ValuesJson = valuesJson;

        /// <summary>The values as a JSON array.</summary>
        public string ValuesJson { get; }
    }

    /// <summary>A numeric range; rows whose field is not a number never match.</summary>
    public sealed record RangeFilter : MetadataFilter
    {
        internal RangeFilter(string field, double? min, double? max) : base(field)
        {
            Min = min;
            Max = max;
        }

        /// <summary>The inclusive lower bound, or null.</summary>
        public double? Min { get; }

        /// <summary>The inclusive upper bound, or null.</summary>
        public double? Max { get; }
    }
}
