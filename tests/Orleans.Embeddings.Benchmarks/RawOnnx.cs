using System.Diagnostics;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Sessions;

namespace Orleans.Embeddings.Benchmarks;

/// <summary>Plain uses of an ONNX Runtime session, the baseline the pipelines are measured against.</summary>
internal static class RawOnnx
{
    /// <summary>One plain way to run a session: fixed batches of <paramref name="Batch"/> length-sorted texts, from <paramref name="Callers"/> threads.</summary>
    /// <param name="Batch">Texts per run.</param>
    /// <param name="Callers">Threads calling the session at once (each takes the next batch).</param>
    /// <param name="IntraOpThreads">ONNX Runtime threads per run (0: its default, one per core).</param>
    public sealed record Configuration(int Batch, int Callers, int IntraOpThreads)
    {
        public override string ToString() => $"batches of {Batch}, {Callers} caller(s), {(IntraOpThreads == 0 ? "default" : IntraOpThreads.ToString(System.Globalization.CultureInfo.InvariantCulture))} intra-op thread(s)";
    }

    /// <summary>
    /// The configurations tried: batches of 32 and of 8 from one thread on all cores, and batches of 8 from one thread per
    /// core on single-threaded runs (what the indexer does on a CPU).
    /// </summary>
    public static readonly Configuration[] Configurations = [new(32, 1, 0), new(8, 1, 0), new(8, Environment.ProcessorCount, 1)];

    /// <summary>Docs/s of <paramref name="configuration"/> on <paramref name="texts"/>; the vectors in the texts' order.</summary>
    /// <param name="byTokens">
    /// Tokenize every text first (timed) and sort by exact token count, as the indexer's batcher does, instead of by length
    /// in characters: not a plain use of a session, but the reference for how much of the batcher's gain is its sorting.
    /// </param>
    public static double Measure(EmbeddingModelFolder folder, string[] texts, Configuration configuration, out float[][] vectors, bool byTokens = false)
    {
        using var session = new EmbeddingSession(folder, new EmbeddingSessionOptions { IntraOpThreads = configuration.IntraOpThreads });
        session.Embed(texts.Take(configuration.Batch).ToArray(), EmbeddingPurpose.Document);
        var results = new float[texts.Length][];
        var clock = Stopwatch.StartNew();
        var tokens = byTokens ? texts.Select(t => session.Tokenize(t, EmbeddingPurpose.Document)).ToArray() : null;
        var chunks = Enumerable.Range(0, texts.Length).OrderBy(i => tokens?[i].Ids.Length ?? texts[i].Length).Chunk(configuration.Batch).ToArray();
        var next = -1;
        var callers = Enumerable.Range(0, configuration.Callers).Select(_ => Task.Run(() =>
        {
            int c;
            while ((c = Interlocked.Increment(ref next)) < chunks.Length)
            {
                var embeddings = tokens is null
                    ? session.Embed([.. chunks[c].Select(i => texts[i])], EmbeddingPurpose.Document)
                    : session.Embed([.. chunks[c].Select(i => tokens[i])]);
                for (var k = 0; k < chunks[c].Length; k++)
                {
                    results[chunks[c][k]] = embeddings[k].Vector;
                }
            }
        })).ToArray();
        Task.WaitAll(callers);
        vectors = results;
        return texts.Length / clock.Elapsed.TotalSeconds;
    }

    /// <summary>The best of <see cref="Configurations"/> on the same texts, printing each.</summary>
    public static (double DocsPerSecond, Configuration Configuration) Best(EmbeddingModelFolder folder, string[] texts)
    {
        var results = new List<(double, Configuration)>();
        foreach (var configuration in Configurations)
        {
            var rate = Measure(folder, texts, configuration, out _);
            Console.WriteLine($"  raw ONNX Runtime, {folder.Name}, {configuration}: {rate:F1} docs/s");
            results.Add((rate, configuration));
        }

        return results.MaxBy(r => r.Item1);
    }
}
