using System.Globalization;

namespace Orleans.Embeddings.Client.Evaluation;

/// <summary>
/// Builds an evaluation set from documents that have a title kept out of their content (the Debian corpus: a package's
/// one-line synopsis): the title is the query, and its document is the one relevant answer. Titles shared by several
/// documents are ambiguous and left out, as are titles of fewer than three words.
/// </summary>
public static class TitleEvaluationSet
{
    /// <summary>Writes <c>queries.tsv</c> and <c>qrels.tsv</c> for every <paramref name="every"/>th usable document (by id) into <paramref name="directory"/>.</summary>
    /// <returns>How many queries were written.</returns>
    public static int Write(IEnumerable<(string Id, string Title)> documents, string directory, int every = 32)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentOutOfRangeException.ThrowIfLessThan(every, 1);
        var all = documents.Select(d => (d.Id, Title: d.Title.Replace('\t', ' ').Replace('\n', ' ').Trim())).ToList();
        var shared = all.GroupBy(d => d.Title, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var chosen = all
            .Where(d => !shared.Contains(d.Title) && d.Title.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length >= 3)
            .OrderBy(d => d.Id, StringComparer.Ordinal)
            .Where((_, i) => i % every == 0)
            .ToList();
        Directory.CreateDirectory(directory);
        File.WriteAllLines(Path.Combine(directory, "queries.tsv"), chosen.Select((d, i) => string.Create(CultureInfo.InvariantCulture, $"q{i}\t{d.Title}")));
        File.WriteAllLines(Path.Combine(directory, "qrels.tsv"), chosen.Select((d, i) => string.Create(CultureInfo.InvariantCulture, $"q{i}\t{d.Id}\t1")));
        return chosen.Count;
    }
}
