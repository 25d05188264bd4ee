using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Orleans.Embeddings.Storage.Migrations;

/// <summary>One versioned schema change, loaded from an embedded <c>NNNN_name.sql</c> file.</summary>
/// <param name="Version">The number the file name starts with; migrations apply in this order.</param>
/// <param name="Name">The rest of the file name, for the schema history.</param>
/// <param name="Sql">The script, executed as one command inside the migration transaction.</param>
public sealed partial record MigrationScript(int Version, string Name, string Sql)
{
    /// <summary>SHA-256 of the script text, recorded so that an edited, already-applied migration is detected.</summary>
    public string Checksum { get; } = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Sql)));

    /// <summary>Parses a file name of the form <c>0003_add_documents.sql</c>.</summary>
    public static MigrationScript FromFile(string fileName, string sql)
    {
        var match = FileNamePattern().Match(fileName);
        if (!match.Success)
        {
            throw new ArgumentException(
                $"Migration file '{fileName}' must be named NNNN_name.sql (four digits, an underscore, lower-case letters, digits or underscores).",
                nameof(fileName));
        }

        return new MigrationScript(
            int.Parse(match.Groups["version"].Value, NumberStyles.None, CultureInfo.InvariantCulture),
            match.Groups["name"].Value,
            sql);
    }

    [GeneratedRegex(@"^(?<version>\d{4})_(?<name>[a-z0-9_]+)\.sql$")]
    private static partial Regex FileNamePattern();
}
