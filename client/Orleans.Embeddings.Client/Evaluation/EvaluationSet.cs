using System.Globalization;

namespace Orleans.Embeddings.Client.Evaluation;

/// <summary>
/// Labelled queries: <c>queries.tsv</c> (<c>query-id TAB text</c>) and <c>qrels.tsv</c> (<c>query-id TAB document-id TAB
/// relevance</c>, or TREC's four columns <c>query-id 0 document-id relevance</c>, separated by tabs or spaces). Relevance
/// is a non-negative integer; 0 means judged not relevant. Lines starting with # are comments.
/// </summary>
public sealed class EvaluationSet
{
    private EvaluationSet(IReadOnlyDictionary<string, string> queries, IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> judgements)
    {
        Queries = queries;
        Judgements = judgements;
    }

    /// <summary>Query text by query id.</summary>
    public IReadOnlyDictionary<string, string> Queries { get; }

    /// <summary>Relevance by document id, by query id (only queries that have at least one relevant document).</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> Judgements { get; }

    /// <summary>Reads the two files.</summary>
    /// <exception cref="FormatException">A line is malformed, or a judgement names an unknown query; the message gives the file and line.</exception>
    public static EvaluationSet Load(string queriesPath, string qrelsPath)
    {
        var queries = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (line, number) in Lines(queriesPath))
        {
            var tab = line.IndexOf('\t', StringComparison.Ordinal);
            if (tab <= 0 || string.IsNullOrWhiteSpace(line[(tab + 1)..]))
            {
                throw new FormatException($"{queriesPath}:{number}: expected 'query-id<TAB>text'.");
            }

            if (!queries.TryAdd(line[..tab], line[(tab + 1)..].Trim()))
            {
                throw new FormatException($"{queriesPath}:{number}: query id '{line[..tab]}' appears twice.");
            }
        }

        var judgements = new Dictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        foreach (var (line, number) in Lines(qrelsPath))
        {
            var fields = line.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            var (query, document, relevanceText) = fields.Length switch
            {
                3 => (fields[0], fields[1], fields[2]),
                4 => (fields[0], fields[2], fields[3]),
                _ => throw new FormatException($"{qrelsPath}:{number}: expected 'query-id document-id relevance' (or TREC's 'query-id 0 document-id relevance')."),
            };
            if (!int.TryParse(relevanceText, NumberStyles.None, CultureInfo.InvariantCulture, out var relevance))
            {
                throw new FormatException($"{qrelsPath}:{number}: relevance '{relevanceText}' is not a non-negative integer.");
            }

            if (!queries.ContainsKey(query))
            {
                throw new FormatException($"{qrelsPath}:{number}: query id '{query}' is not in {queriesPath}.");
            }

            if (relevance > 0)
            {
                (judgements.TryGetValue(query, out var list) ? list : judgements[query] = new Dictionary<string, int>(StringComparer.Ordinal))[document] = relevance;
            }
        }

        return new EvaluationSet(queries, judgements.ToDictionary(j => j.Key, j => (IReadOnlyDictionary<string, int>)j.Value, StringComparer.Ordinal));
    }

    private static IEnumerable<(string Line, int Number)> Lines(string path)
    {
        if (!File.Exists(path))
        {
            throw new FormatException($"{path} does not exist.");
        }

        var number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (line.Length > 0 && !line.StartsWith('#'))
            {
                yield return (line, number);
            }
        }
    }
}
