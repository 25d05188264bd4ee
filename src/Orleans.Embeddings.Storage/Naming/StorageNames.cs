using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Orleans.Embeddings.Storage.Naming;

/// <summary>
/// Validates collection and version names and derives the SQL identifiers built from them.
/// Only identifiers made here reach SQL text; every other value travels as a parameter.
/// </summary>
public static partial class StorageNames
{
    /// <summary>The rule every collection and version name follows.</summary>
    public const string NamePattern = "^[a-z0-9][a-z0-9_-]{0,62}$";

    /// <summary>Throws when <paramref name="name"/> is not a valid collection or version name.</summary>
    /// <param name="name">The name to check.</param>
    /// <param name="kind">What the name is for, used in the message ("collection", "version").</param>
    /// <exception cref="ArgumentException">The name is empty, too long, or has characters outside [a-z0-9_-].</exception>
    public static string Validate(string? name, string kind)
    {
        if (name is null || !NameRegex().IsMatch(name))
        {
            throw new ArgumentException(
                $"Invalid {kind} name '{Shorten(name)}': it must match {NamePattern} (1 to 63 characters: lower-case letters, digits, '_' and '-', starting with a letter or digit).",
                kind);
        }

        return name;
    }

    /// <summary>
    /// The table name of a (collection, version) pair: readable prefixes of both names and a hash of the
    /// pair, so that names differing only in '-' versus '_' or beyond the prefixes never collide, and the
    /// result stays within PostgreSQL's 63-byte identifiers.
    /// </summary>
    public static string VersionTableName(string collection, string version)
    {
        Validate(collection, "collection");
        Validate(version, "version");
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{collection}\0{version}"));
        return $"emb_{Prefix(collection)}_{Prefix(version)}_{Convert.ToHexStringLower(hash, 0, 4)}";
    }

    /// <summary>The HNSW index name of a version table.</summary>
    public static string HnswIndexName(string tableName) => CheckIdentifier(tableName) + "_hnsw";

    /// <summary>
    /// The name of a binary version's quantizer: the SQL function its HNSW index is built on, which holds the version's
    /// centre, so that neither the index definition nor any search carries the centre's numbers as text.
    /// </summary>
    public static string QuantizerFunctionName(string tableName) => CheckIdentifier(tableName) + "_code";

    /// <summary>Quotes an identifier this class generated (or a registry value it generated earlier).</summary>
    /// <exception cref="ArgumentException">The value is not an identifier this class produces.</exception>
    public static string Quote(string identifier) => $"\"{CheckIdentifier(identifier)}\"";

    private static string CheckIdentifier(string identifier) =>
        identifier is not null && GeneratedIdentifierRegex().IsMatch(identifier)
            ? identifier
            : throw new ArgumentException($"'{Shorten(identifier)}' is not a generated table identifier.", nameof(identifier));

    private static string Prefix(string name) => name.Replace('-', '_')[..Math.Min(name.Length, 20)];

    private static string Shorten(string? value) => value is null ? "(null)" : value.Length <= 80 ? value : value[..80] + "…";

    [GeneratedRegex(NamePattern)]
    private static partial Regex NameRegex();

    [GeneratedRegex("^emb_[a-z0-9_]{1,20}_[a-z0-9_]{1,20}_[0-9a-f]{8}(_hnsw|_code)?$")]
    private static partial Regex GeneratedIdentifierRegex();
}
