using System.Text.Json;

namespace Orleans.Embeddings.Inference.Tests.Reference;

/// <summary>
/// The Debian corpus as infra/corpus/debian-corpus.sh and debian-eval-set.sh build it (infra/test.sh runs both): the
/// package descriptions (the "content" of each JSON line) and the evaluation queries (the second column of queries.tsv).
/// </summary>
internal static class DebianCorpusFiles
{
    /// <summary>Where the scripts write: $EMBEDDINGS_DATA_HOME, else /var/lib/orleans-embeddings as root, else the XDG data folder.</summary>
    public static string Directory
    {
        get
        {
            var home = Environment.GetEnvironmentVariable("EMBEDDINGS_DATA_HOME") is { Length: > 0 } configured
                ? configured
                : Environment.UserName == "root"
                    ? "/var/lib/orleans-embeddings"
                    : Path.Combine(Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg
                        ? xdg
                        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share"), "orleans-embeddings");
            return Path.Combine(home, "corpus");
        }
    }

    /// <summary>Every document's content, in file order.</summary>
    public static IReadOnlyList<string> Documents()
    {
        var path = Require(Path.Combine(Directory, "debian.jsonl"), "infra/corpus/debian-corpus.sh");
        var documents = new List<string>();
        foreach (var line in File.ReadLines(path))
        {
            using var document = JsonDocument.Parse(line);
            documents.Add(document.RootElement.GetProperty("content").GetString() ?? string.Empty);
        }

        return documents;
    }

    /// <summary>Every evaluation query's text.</summary>
    public static IReadOnlyList<string> Queries() =>
        [.. File.ReadLines(Require(Path.Combine(Directory, "eval", "queries.tsv"), "infra/corpus/debian-eval-set.sh")).Select(l => l[(l.IndexOf('\t', StringComparison.Ordinal) + 1)..])];

    private static string Require(string path, string script)
    {
        if (!File.Exists(path))
        {
            TestDependency.Missing($"The Debian corpus is not built at {path}: run 'bash {script}' (infra/test.sh does).");
        }

        return path;
    }
}
