namespace Orleans.Embeddings.Client.Evaluation;

/// <summary>Per-query ranking metrics over a ranked list of document ids and graded relevance judgements.</summary>
public static class RankingMetrics
{
    /// <summary>The share of the relevant documents found in the first <paramref name="k"/> hits.</summary>
    public static double Recall(IReadOnlyList<string> ranked, IReadOnlyDictionary<string, int> relevant, int k)
    {
        ArgumentNullException.ThrowIfNull(ranked);
        ArgumentNullException.ThrowIfNull(relevant);
        return relevant.Count == 0 ? 0 : (double)ranked.Take(k).Count(relevant.ContainsKey) / relevant.Count;
    }

    /// <summary>Normalised discounted cumulative gain at <paramref name="k"/>, with gain 2^relevance − 1.</summary>
    public static double Ndcg(IReadOnlyList<string> ranked, IReadOnlyDictionary<string, int> relevant, int k)
    {
        ArgumentNullException.ThrowIfNull(ranked);
        ArgumentNullException.ThrowIfNull(relevant);
        static double Gain(int relevance, int rank) => (Math.Pow(2, relevance) - 1) / Math.Log2(rank + 2);
        var dcg = ranked.Take(k).Select((id, rank) => relevant.TryGetValue(id, out var r) ? Gain(r, rank) : 0).Sum();
        var ideal = relevant.Values.OrderDescending().Take(k).Select((r, rank) => Gain(r, rank)).Sum();
        return ideal == 0 ? 0 : dcg / ideal;
    }

    /// <summary>1 / the rank of the first relevant hit within the first <paramref name="k"/>, or 0.</summary>
    public static double ReciprocalRank(IReadOnlyList<string> ranked, IReadOnlyDictionary<string, int> relevant, int k)
    {
        ArgumentNullException.ThrowIfNull(ranked);
        ArgumentNullException.ThrowIfNull(relevant);
        for (var i = 0; i < Math.Min(k, ranked.Count); i++)
        {
            if (relevant.ContainsKey(ranked[i]))
            {
                return 1.0 / (i + 1);
            }
        }

        return 0;
    }
}
