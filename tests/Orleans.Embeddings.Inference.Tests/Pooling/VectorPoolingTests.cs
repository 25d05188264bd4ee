using Orleans.Embeddings.Inference.Pooling;

namespace Orleans.Embeddings.Inference.Tests.Pooling;

public sealed class VectorPoolingTests
{
    [Fact]
    public void MaskedMean_AgreesWithAStraightforwardReference()
    {
        var random = new Random(1);
        const int tokens = 7, dimensions = 5;
        var values = Enumerable.Range(0, tokens * dimensions).Select(_ => (float)random.NextDouble()).ToArray();
        long[] mask = [1, 1, 0, 1, 1, 0, 0];
        var pooled = new float[dimensions];

        VectorPooling.MaskedMean(values, mask, dimensions, pooled);

        for (var d = 0; d < dimensions; d++)
        {
            var reference = Enumerable.Range(0, tokens).Where(t => mask[t] == 1).Average(t => values[(t * dimensions) + d]);
            Assert.Equal(reference, pooled[d], 5);
        }
    }

    [Fact]
    public void Truncate_KeepsThePrefixAndRenormalises()
    {
        float[] vector = [0.6f, 0.8f, 0f, 0f];

        var shorter = VectorPooling.Truncate(new float[] { 3, 4, 12, 0 }, 2);

        Assert.Equal(vector[..2], shorter);
    }

    [Fact]
    public void Normalize_ZeroVector_StaysZero()
    {
        var zero = new float[3];

        VectorPooling.Normalize(zero);

        Assert.All(zero, v => Assert.Equal(0f, v));
    }
}
