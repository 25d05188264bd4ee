namespace Orleans.Embeddings.Search;

/// <summary>How alike two ranked lists are: what a shadow comparison reports.</summary>
public static class RankOverlap
{
    /// <summary>The share of <paramref name="a"/>'s first <paramref name="k"/> that is also in <paramref name="b"/>'s first <paramref name="k"/>.</summary>
    public static double OverlapAt(IReadOnlyList<string> a, IReadOnlyList<string> b, int k)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var top = b.Take(k).ToHashSet(StringComparer.Ordinal);
        return (double)a.Take(k).Count(top.Contains) / k;
    }

    /// <summary>
    /// Rank-biased overlap (Webber, Moffat and Zobel 2010), extrapolated from the first <paramref name="depth"/> ranks: 1
    /// for the same order, 0 for nothing in common; agreement at the top weighs most (persistence <paramref name="p"/>).
    /// </summary>
    public static double Rbo(IReadOnlyList<string> a, IReadOnlyList<string> b, int depth, double p = 0.9)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        if (p is <= 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "The persistence must be between 0 and 1.");
        }

        var seenA = new HashSet<string>(StringComparer.Ordinal);
        var seenB = new HashSet<string>(StringComparer.Ordinal);
        var overlap = 0;
        double sum = 0;
        for (var d = 1; d <= depth; d++)
        {
            var x = d <= a.Count ? a[d - 1] : null;
            var y = d <= b.Count ? b[d - 1] : null;
            if (x is not null && x == y)
            {
                overlap++;
            }
            else
            {
                if (x is not null && seenB.Contains(x))
                {
                    overlap++;
                }

                if (y is not null && seenA.Contains(y))
                {
                    overlap++;
                }
            }

            if (x is not null)
            {
                seenA.Add(x);
            }

            if (y is not null)
            {
                seenB.Add(y);
            }

            sum += (double)overlap / d * Math.Pow(p, d);
        }

        return ((double)overlap / depth * Math.Pow(p, depth)) + ((1 - p) / p * sum);
    }
}
