using System.Reflection;

namespace Orleans.Embeddings.Storage.Migrations;

/// <summary>The migrations compiled into this assembly (<c>Migrations/Scripts/*.sql</c>), in version order.</summary>
public static class EmbeddedMigrations
{
    private const string ResourcePrefix = "Orleans.Embeddings.Storage.Migrations.";

    private static readonly Lazy<IReadOnlyList<MigrationScript>> s_all = new(Load);

    /// <summary>All migrations, ordered by version. Versions are unique.</summary>
    public static IReadOnlyList<MigrationScript> All => s_all.Value;

    /// <summary>The highest version; a database at this version is up to date.</summary>
    public static int LatestVersion => All.Count == 0 ? 0 : All[^1].Version;

    private static IReadOnlyList<MigrationScript> Load()
    {
        var assembly = typeof(EmbeddedMigrations).Assembly;
        var scripts = assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n => MigrationScript.FromFile(n[ResourcePrefix.Length..], Read(assembly, n)))
            .OrderBy(s => s.Version)
            .ToList();

        var duplicate = scripts.GroupBy(s => s.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException(
                $"Two migrations share version {duplicate.Key}: {string.Join(", ", duplicate.Select(s => s.Name))}.");
        }

        return scripts;
    }

    private static string Read(Assembly assembly, string resourceName)
    {
        using var stream = assembly.GetManifestResourceStream(resourceName)
            ?? throw new InvalidOperationException($"Embedded migration '{resourceName}' could not be opened.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
