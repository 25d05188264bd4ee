using System.Numerics.Tensors;

namespace Orleans.Embeddings.Inference.Pooling;

/// <summary>Turns token vectors into one text vector, and normalises or shortens vectors.</summary>
public static class VectorPooling
{
    /// <summary>The mean of the rows of <paramref name="tokens"/> (one row of <paramref name="dimensions"/> per token) whose mask is 1.</summary>
    public static void MaskedMean(ReadOnlySpan<float> tokens, ReadOnlySpan<long> mask, int dimensions, Span<float> destination)
    {
        destination.Clear();
        var count = 0;
        for (var t = 0; t < mask.Length; t++)
        {
            if (mask[t] != 0)
            {
                TensorPrimitives.Add(destination, tokens.Slice(t * dimensions, dimensions), destination);
                count++;
            }
        }

        if (count > 0)
        {
            TensorPrimitives.Divide(destination, count, destination);
        }
    }

    /// <summary>Scales <paramref name="vector"/> to length 1 (a zero vector stays zero).</summary>
    public static void Normalize(Span<float> vector)
    {
        var norm = TensorPrimitives.Norm(vector);
        if (norm > 0)
        {
            TensorPrimitives.Divide(vector, norm, vector);
        }
    }

    /// <summary>The first <paramref name="dimensions"/> components, renormalised (Matryoshka truncation).</summary>
    public static float[] Truncate(ReadOnlySpan<float> vector, int dimensions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dimensions, vector.Length);
        var shorter = vector[..dimensions].ToArray();
        Normalize(shorter);
        return shorter;
    }
}
