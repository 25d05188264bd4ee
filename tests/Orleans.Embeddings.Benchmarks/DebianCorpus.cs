using System.Text.Json;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Benchmarks;

/// <summary>The Debian package-description corpus, built by infra/corpus/debian-corpus.sh when missing.</summary>
internal static class DebianCorpus
{
    /// <summary>A package: id, long description (content) and one-line synopsis (title).</summary>
    public sealed record Package(string Id, string Content, string Title, string Section);

    public static async Task<IReadOnlyList<Package>> LoadAsync(CancellationToken cancellationToken)
    {
        var script = Path.Combine(RepositoryPaths.Root, "infra", "corpus", "debian-corpus.sh");
        var output = await ChildProcess.RunAsync("bash", [script], TimeSpan.FromMinutes(10), cancellationToken);
        var path = output.Trim().Split('\n')[^1];
        var packages = new List<Package>();
        foreach (var line in File.ReadLines(path))
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            var metadata = root.GetProperty("metadata");
            packages.Add(new Package(
                root.GetProperty("id").GetString()!,
                root.GetProperty("content").GetString()!,
                metadata.GetProperty("title").GetString()!,
                metadata.GetProperty("section").GetString()!));
        }

        return packages;
    }
}
