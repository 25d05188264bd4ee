namespace Orleans.Embeddings.Testing;

/// <summary>Seeded random unit vectors, so that vector tests and benchmarks are repeatable.</summary>
public static class RandomVectors
{
    /// <summary>A vector of <paramref name="dimensions"/> Gaussian components, scaled to length 1.</summary>
    public static float[] Unit(Random random, int dimensions)
    {
        ArgumentNullException.ThrowIfNull(random);
        var vector = new float[dimensions];
        double norm = 0;
        for (var i = 0; i < dimensions; i++)
        {
            // Box-Muller: a normal sample from two uniform ones.
            var value = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            vector[i] = (float)value;
            norm += value * value;
        }

        var scale = (float)(1 / Math.Sqrt(norm));
        for (var i = 0; i < dimensions; i++)
        {
            vector[i] *= scale;
        }

        return vector;
    }

    /// <summary>The dot product (the cosine similarity of unit vectors).</summary>
    public static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (var i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }
}
