using Orleans.Embeddings.Inference.Builders;

namespace Orleans.Embeddings.Inference.Tests.Builders;

/// <summary>A plain, loop-by-loop BERT forward pass over one unpadded sequence, to check the ONNX graph against.</summary>
internal static class EncoderReference
{
    public static float[][] Forward(EncoderWeights weights, int[] ids)
    {
        var c = weights.Configuration;
        var h = c.Hidden;
        var x = new float[ids.Length][];
        for (var t = 0; t < ids.Length; t++)
        {
            x[t] = new float[h];
            for (var d = 0; d < h; d++)
            {
                x[t][d] = weights.WordEmbeddings[(ids[t] * h) + d] + weights.PositionEmbeddings[(t * h) + d] + weights.TokenTypeEmbeddings[d];
            }

            x[t] = LayerNorm(x[t], weights.EmbeddingNorm.Scale, weights.EmbeddingNorm.Bias);
        }

        foreach (var w in weights.Layers)
        {
            var q = x.Select(v => Linear(v, w.Query, w.QueryBias)).ToArray();
            var k = x.Select(v => Linear(v, w.Key, w.KeyBias)).ToArray();
            var v = x.Select(r => Linear(r, w.Value, w.ValueBias)).ToArray();
            var context = ids.Select(_ => new float[h]).ToArray();
            for (var head = 0; head < c.Heads; head++)
            {
                var offset = head * c.HeadSize;
                for (var i = 0; i < ids.Length; i++)
                {
                    var scores = new double[ids.Length];
                    for (var j = 0; j < ids.Length; j++)
                    {
                        double dot = 0;
                        for (var d = 0; d < c.HeadSize; d++)
                        {
                            dot += q[i][offset + d] * k[j][offset + d];
                        }

                        scores[j] = dot / Math.Sqrt(c.HeadSize);
                    }

                    var max = scores.Max();
                    var exp = scores.Select(s => Math.Exp(s - max)).ToArray();
                    var sum = exp.Sum();
                    for (var j = 0; j < ids.Length; j++)
                    {
                        for (var d = 0; d < c.HeadSize; d++)
                        {
                            context[i][offset + d] += (float)(exp[j] / sum * v[j][offset + d]);
                        }
                    }
                }
            }

            var attended = x.Select((r, t) => LayerNorm(Add(Linear(context[t], w.AttentionOutput, w.AttentionOutputBias), r), w.AttentionNormScale, w.AttentionNormBias)).ToArray();
            x = [.. attended.Select(r =>
            {
                var ff = Linear(r, w.Intermediate, w.IntermediateBias).Select(f => (float)(f * 0.5 * (1 + Erf(f / Math.Sqrt(2))))).ToArray();
                return LayerNorm(Add(Linear(ff, w.Output, w.OutputBias), r), w.OutputNormScale, w.OutputNormBias);
            })];
        }

        return x;
    }

    private static float[] Linear(float[] input, float[] matrix, float[] bias)
    {
        var output = (float[])bias.Clone();
        for (var i = 0; i < input.Length; i++)
        {
            for (var o = 0; o < output.Length; o++)
            {
                output[o] += input[i] * matrix[(i * output.Length) + o];
            }
        }

        return output;
    }

    private static float[] Add(float[] a, float[] b) => [.. a.Zip(b, (x, y) => x + y)];

    private static float[] LayerNorm(float[] x, float[] scale, float[] bias)
    {
        var mean = x.Average(v => (double)v);
        var variance = x.Average(v => (v - mean) * (v - mean));
        return [.. x.Select((v, i) => (float)(((v - mean) / Math.Sqrt(variance + 1e-12) * scale[i]) + bias[i]))];
    }

    // Abramowitz–Stegun 7.1.26 is too coarse for a 1e-4 comparison; this series/continued-fraction pair is exact to ~1e-12.
    private static double Erf(double x)
    {
        if (Math.Abs(x) < 2.5)
        {
            double sum = x, term = x, x2 = x * x;
            for (var n = 1; n < 60; n++)
            {
                term *= -x2 / n;
                sum += term / ((2 * n) + 1);
            }

            return 2 / Math.Sqrt(Math.PI) * sum;
        }

        // erfc by continued fraction for large |x|.
        var ax = Math.Abs(x);
        double f = 0;
        for (var n = 60; n >= 1; n--)
        {
            f = n / 2.0 / (ax + f);
        }

        var erfc = Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / (ax + f);
        return Math.Sign(x) * (1 - erfc);
    }
}
