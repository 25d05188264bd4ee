using Orleans.Embeddings.Search;

namespace Orleans.Embeddings.Client.Evaluation;

/// <summary>
/// Compares model versions of a collection on labelled queries: every query is searched with every version (pinned),
/// and recall@k, nDCG@10 and MRR@10 are computed per query, then averaged with bootstrap intervals, and each version is
/// compared with the first by a paired randomization test on nDCG@10. When the versions do not hold the same documents
/// (one is still loading), every search is restricted to the documents all of them hold, and so are the judgements;
/// queries left without a relevant document are skipped.
/// </summary>
public sealed class RetrievalEvaluator(
    Func<SearchRequest, CancellationToken, Task<SearchResponse>> search,
    Func<string, IReadOnlyList<string>, IReadOnlyList<string>, CancellationToken, Task<VersionCoverageResponse>> coverage)
{
    /// <summary>The cut-off of nDCG and MRR.</summary>
    public const int RankCutoff = 10;

    /// <summary>Searches run at once.</summary>
    public int Concurrency { get; init; } = 8;

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
        using var gate = new SemaphoreSlim(Concurrency);
        var done = 0;
        var depth = Math.Max(k, RankCutoff);
        await Task.WhenAll(queries.SelectMany((query, index) => versions.Select(async version =>
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var response = await search(
                    new SearchRequest(collection, query.Text) { K = depth, Version = version, PresentIn = restricted ? [.. versions.Where(v => v != version)] : [] },
                    cancellationToken).ConfigureAwait(false);
                var ranked = response.Hits.Select(h => h.Id).ToList();
                scores[version][index] = (
                    RankingMetrics.Recall(ranked, query.Relevant, k),
                    RankingMetrics.Ndcg(ranked, query.Relevant, RankCutoff),
                    RankingMetrics.ReciprocalRank(ranked, query.Relevant, RankCutoff));
                progress?.Report(Interlocked.Increment(ref done));
            }
            finally
            {
                gate.Release();
            }
        }))).ConfigureAwait(false);

        var results = versions.Select(v => new VersionEvaluation(
            v,
            live.GetValueOrDefault(v),
            PairedStatistics.Bootstrap([.. scores[v].Select(s => s.Recall)]),
            PairedStatistics.Bootstrap([.. scores[v].Select(s => s.Ndcg)]),
            PairedStatistics.Bootstrap([.. scores[v].Select(s => s.Mrr)]))).ToList();
        var baseline = scores[versions[0]].Select(s => s.Ndcg).ToArray();
        var comparisons = versions.Skip(1).Select(v =>
        {
            var candidate = scores[v].Select(s => s.Ndcg).ToArray();
            return new VersionComparison(
                v, versions[0],
                PairedStatistics.Bootstrap([.. candidate.Zip(baseline, (c, b) => c - b)]),
                PairedStatistics.RandomizationTest(candidate, baseline));
        }).ToList();
        return new EvaluationReport(collection, k, queries.Count, set.Judgements.Count - queries.Count, restricted, restricted ? present.Count : null, results, comparisons);
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
    IReadOnlyList<VersionEvaluation> Versions, IReadOnlyList<VersionComparison> Comparisons);

/// <summary>One version's scores.</summary>
public sealed record VersionEvaluation(string Version, long LiveDocuments, Estimate Recall, Estimate Ndcg10, Estimate Mrr10);

/// <summary>A version against the baseline: the mean per-query nDCG@10 difference and the paired test's p-value.</summary>
public sealed record VersionComparison(string Version, string Baseline, Estimate NdcgDifference, double PValue);
