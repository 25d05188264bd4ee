namespace Orleans.Embeddings.Client.Evaluation;

/// <summary>A mean with its bootstrap 95 % confidence interval.</summary>
/// <param name="Mean">The mean over queries.</param>
/// <param name="Low">The 2.5th percentile of the bootstrap means.</param>
/// <param name="High">The 97.5th percentile of the bootstrap means.</param>
public readonly record struct Estimate(double Mean, double Low, double High);

/// <summary>Bootstrap intervals and a paired randomization test over per-query scores (seeded: the same input gives the same answer).</summary>
public static class PairedStatistics
{
    /// <summary>The mean of <paramref name="values"/> and the percentile bootstrap 95 % interval of it.</summary>
    public static Estimate Bootstrap(IReadOnlyList<double> values, int resamples = 2000, int seed = 17)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0)
        {
            return new Estimate(double.NaN, double.NaN, double.NaN);
        }

        var random = new Random(seed);
        var means = new double[resamples];
        for (var r = 0; r < resamples; r++)
        {
            double sum = 0;
            for (var i = 0; i < values.Count; i++)
            {
                sum += values[random.Next(values.Count)];
            }

            means[r] = sum / values.Count;
        }

        Array.Sort(means);
        return new Estimate(values.Average(), means[(int)(0.025 * (resamples - 1))], means[(int)Math.Ceiling(0.975 * (resamples - 1))]);
    }

    /// <summary>
    /// The two-sided p-value of a paired randomization (sign-flip) test: how often randomly swapping each query's pair of
    /// scores gives a mean difference at least as large as the observed one. The +1s keep it from being 0.
    /// </summary>
    public static double RandomizationTest(IReadOnlyList<double> a, IReadOnlyList<double> b, int permutations = 10_000, int seed = 23)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Count != b.Count)
        {
            throw new ArgumentException($"Paired scores need the same queries ({a.Count} and {b.Count} given).", nameof(b));
        }

        if (a.Count == 0)
        {
            return double.NaN;
        }

        var differences = a.Zip(b, (x, y) => x - y).ToArray();
        var observed = Math.Abs(differences.Average());
        var random = new Random(seed);
        var asExtreme = 0;
        for (var p = 0; p < permutations; p++)
        {
            double sum = 0;
            foreach (var difference in differences)
            {
                sum += random.Next(2) == 0 ? difference : -difference;
            }

            if (Math.Abs(sum / differences.Length) >= observed - 1e-12)
            {
                asExtreme++;
            }
        }

        return (asExtreme + 1.0) / (permutations + 1.0);
    }
}
