using Orleans.Embeddings.Search;

namespace Orleans.Embeddings.Client.Evaluation;

/// <summary>
/// Compares model versions of a collection on labelled queries: every query is searched with every version (pinned),
/// and recall@k, nDCG@10 and MRR@10 are computed per query, then averaged with bootstrap intervals, and each version is
/// compared with the first by a paired randomization test on nDCG@10. When the versions do not hold the same documents
/// (one is still loading), every search is restricted to the documents all of them hold, and so are the judgements;
/// queries left without a relevant document are skipped. With <see cref="ExactReference"/>, each query is also searched
/// exactly on the first version, and every version's top k is scored against that exact answer.
/// </summary>
public sealed class RetrievalEvaluator(
    Func<SearchRequest, CancellationToken, Task<SearchResponse>> search,
    Func<string, IReadOnlyList<string>, IReadOnlyList<string>, CancellationToken, Task<VersionCoverageResponse>> coverage)
{
    /// <summary>The cut-off of nDCG and MRR.</summary>
    public const int RankCutoff = 10;

    /// <summary>Searches run at once.</summary>
    public int Concurrency { get; init; } = 8;

    /// <summary>
    /// Whether each query is also searched on the first version with <see cref="SearchRequest.Exact"/> (every row ranked,
    /// no ANN index), so that every version gets <see cref="VersionEvaluation.ReferenceRecall"/>: the share of that exact
    /// top k its own (index) search returns. The first version's own figure is its index's recall. Costs one full scan
    /// of the first version's table per query.
    /// </summary>
    public bool ExactReference { get; init; }

    /// <summary>Creates an evaluator over the SDK.</summary>
    public static RetrievalEvaluator For(Search.EmbeddingSearchClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        return new RetrievalEvaluator(client.SearchAsync, client.GetCoverageAsync);
    }

    /// <summary>Evaluates <paramref name="versions"/> of <paramref name="collection"/> on <paramref name="set"/>.</summary>
    public async Task<EvaluationReport> EvaluateAsync(
        string collection, EvaluationSet set, IReadOnlyList<string> versions, int k, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(versions);
        if (versions.Count == 0 || versions.Distinct(StringComparer.Ordinal).Count() != versions.Count)
        {
            throw new ArgumentException("Name one or more distinct versions.", nameof(versions));
        }

        if (k is < 1 or > SearchRequest.MaxK)
        {
            throw new ArgumentException($"k must be between 1 and {SearchRequest.MaxK} (was {k}).", nameof(k));
        }

        // Which judged documents every version holds, and how many documents each holds.
        var judged = set.Judgements.Values.SelectMany(j => j.Keys).Distinct(StringComparer.Ordinal).ToList();
        var present = new HashSet<string>(StringComparer.Ordinal);
        IReadOnlyDictionary<string, long> live = new Dictionary<string, long>();
        foreach (var chunk in judged.Count == 0 ? [[]] : judged.Chunk(ISearchGrain.MaxEmbedTexts * 16))
        {
            var answer = await coverage(collection, versions, chunk, cancellationToken).ConfigureAwait(false);
            live = answer.LiveDocuments;
            present.UnionWith(answer.PresentInAll);
        }

        var restricted = live.Values.Distinct().Count() > 1;
        var queries = set.Judgements
            .Select(j => (Id: j.Key, Text: set.Queries[j.Key], Relevant: (IReadOnlyDictionary<string, int>)j.Value.Where(r => present.Contains(r.Key)).ToDictionary(StringComparer.Ordinal)))
            .Where(q => q.Relevant.Count > 0)
            .OrderBy(q => q.Id, StringComparer.Ordinal)
            .ToList();

        var scores = versions.ToDictionary(v => v, _ => new (double Recall, double Ndcg, double Mrr)[queries.Count], StringComparer.Ordinal);
        var topK = versions.ToDictionary(v => v, _ => new IReadOnlyList<string>[queries.Count], StringComparer.Ordinal);
        var reference = new IReadOnlyList<string>[ExactReference ? queries.Count : 0];
        using var gate = new SemaphoreSlim(Concurrency);
        var done = 0;
        var depth = Math.Max(k, RankCutoff);
        IReadOnlyList<string> PresentIn(string version) => restricted ? [.. versions.Where(v => v != version)] : [];
        async Task<List<string>> SearchAsync(string text, string version, int count, bool exact)
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var response = await search(
                    new SearchRequest(collection, text) { K = count, Version = version, PresentIn = PresentIn(version), Exact = exact },
                    cancellationToken).ConfigureAwait(false);
                return [.. response.Hits.Select(h => h.Id)];
            }
            finally
            {
                gate.Release();
            }
        }

        var searches = queries.SelectMany((query, index) => versions.Select(async version =>
        {
            var ranked = await SearchAsync(query.Text, version, depth, exact: false).ConfigureAwait(false);
            topK[version][index] = ranked[..Math.Min(k, ranked.Count)];
            scores[version][index] = (
                RankingMetrics.Recall(ranked, query.Relevant, k),
                RankingMetrics.Ndcg(ranked, query.Relevant, RankCutoff),
                RankingMetrics.ReciprocalRank(ranked, query.Relevant, RankCutoff));
            progress?.Report(Interlocked.Increment(ref done));
        }));
        var exactSearches = queries.Take(reference.Length).Select(async (query, index) =>
            reference[index] = await SearchAsync(query.Text, versions[0], k, exact: true).ConfigureAwait(false));
        await Task.WhenAll(searches.Concat(exactSearches)).ConfigureAwait(false);

        var results = versions.Select(v => new VersionEvaluation(
            v,
            live.GetValueOrDefault(v),
            PairedStatistics.Bootstrap([.. scores[v].Select(s => s.Recall)]),
            PairedStatistics.Bootstrap([.. scores[v].Select(s => s.Ndcg)]),
            PairedStatistics.Bootstrap([.. scores[v].Select(s => s.Mrr)]))
        {
            ReferenceRecall = ExactReference ? PairedStatistics.Bootstrap(ReferenceRecalls(topK[v], reference)) : null,
        }).ToList();
        var baseline = scores[versions[0]].Select(s => s.Ndcg).ToArray();
        var comparisons = versions.Skip(1).Select(v =>
        {
            var candidate = scores[v].Select(s => s.Ndcg).ToArray();
            return new VersionComparison(
                v, versions[0],
                PairedStatistics.Bootstrap([.. candidate.Zip(baseline, (c, b) => c - b)]),
                PairedStatistics.RandomizationTest(candidate, baseline));
        }).ToList();
        return new EvaluationReport(collection, k, queries.Count, set.Judgements.Count - queries.Count, restricted, restricted ? present.Count : null, results, comparisons)
        {
            ExactReference = ExactReference ? versions[0] : null,
        };
    }

    // Per query: the share of the exact answer's ids among the version's top k. A query whose exact answer is empty
    // (no document matches) has nothing to recall and is left out.
    private static List<double> ReferenceRecalls(IReadOnlyList<string>[] found, IReadOnlyList<string>[] exact)
    {
        var recalls = new List<double>(exact.Length);
        for (var q = 0; q < exact.Length; q++)
        {
            if (exact[q].Count > 0)
            {
                recalls.Add((double)exact[q].Intersect(found[q], StringComparer.Ordinal).Count() / exact[q].Count);
            }
        }

        return recalls;
    }
}

/// <summary>What an evaluation found.</summary>
/// <param name="Collection">The collection.</param>
/// <param name="K">The recall cut-off.</param>
/// <param name="Queries">Queries evaluated.</param>
/// <param name="SkippedQueries">Judged queries whose relevant documents are not all versions' (restricted evaluations only).</param>
/// <param name="Restricted">Whether the versions hold different documents, so the evaluation was restricted to those all hold.</param>
/// <param name="JudgedDocumentsPresent">How many judged documents all versions hold (restricted evaluations only).</param>
/// <param name="Versions">Per version.</param>
/// <param name="Comparisons">Each later version against the first, on nDCG@10.</param>
public sealed record EvaluationReport(
    string Collection, int K, int Queries, int SkippedQueries, bool Restricted, int? JudgedDocumentsPresent,
    IReadOnlyList<VersionEvaluation> Versions, IReadOnlyList<VersionComparison> Comparisons)
{
    /// <summary>The version whose exact top k every <see cref="VersionEvaluation.ReferenceRecall"/> is measured against; null: none was asked for.</summary>
    public string? ExactReference { get; init; }
}

/// <summary>One version's scores.</summary>
public sealed record VersionEvaluation(string Version, long LiveDocuments, Estimate Recall, Estimate Ndcg10, Estimate Mrr10)
{
    /// <summary>
    /// The mean over queries of the share of the reference version's exact top k (<see cref="RetrievalEvaluator.ExactReference"/>)
    /// that this version's own search returns in its top k, with its bootstrap interval; for the reference version itself,
    /// its ANN index's recall. Null when no exact reference was searched.
    /// </summary>
    public Estimate? ReferenceRecall { get; init; }
}

/// <summary>A version against the baseline: the mean per-query nDCG@10 difference and the paired test's p-value.</summary>
public sealed record VersionComparison(string Version, string Baseline, Estimate NdcgDifference, double PValue);
