using System.Diagnostics;
using System.Numerics.Tensors;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Sessions;
using Orleans.Embeddings.Inference.Tokenization;

namespace Orleans.Embeddings.Inference.Tests.Reference;

/// <summary>
/// Proof against Hugging Face's own stack: our tokenizer and sessions, with the trained models, against Transformers.js
/// on the whole Debian corpus, its evaluation queries and hostile texts.
/// </summary>
public sealed class TransformersJsReferenceTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("oe-transformersjs-").FullName;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Tokenize_EveryCorpusDocumentQueryAndHostileText_GivesTransformersJsIds()
    {
        TransformersJs.Require();
        var folder = TrainedModelFolders.MiniLm();
        var texts = DebianCorpusFiles.Documents().Concat(DebianCorpusFiles.Queries()).Concat(HostileTexts.All).ToList();
        var expected = await TransformersJs.TokenizeAsync(TrainedModelFolders.ForTransformersJs(folder, _work), folder.MaxTokens, texts, Cancellation);

        var exact = TextTokenizer.Create(folder);
        var legacy = TextTokenizer.Create(folder with { TokenizerRevision = TokenizerRevision.MlTokenizersBert20 });
        var (ours, oursRate) = Tokenize(exact, texts);
        var (old, oldRate) = Tokenize(legacy, texts);

        var differing = Enumerable.Range(0, texts.Count).Where(i => !ours[i].Ids.SequenceEqual(expected[i].Ids)).ToList();
        var oldDiffering = Enumerable.Range(0, texts.Count).Count(i => !old[i].Ids.SequenceEqual(expected[i].Ids));
        TestContext.Current.SendDiagnosticMessage(
            $"{texts.Count:N0} texts: {differing.Count} differ from Transformers.js with {TokenizerRevisionNames.BertHf} ({oursRate:N0} tokens/s), " +
            $"{oldDiffering:N0} with {TokenizerRevisionNames.MlTokenizersBert20} ({oldRate:N0} tokens/s)");
        Assert.True(differing.Count == 0, string.Join("\n", differing.Take(8).Select(i => Difference(texts[i], ours[i].Ids, expected[i].Ids))));
        var wronglyFlagged = Enumerable.Range(0, texts.Count).Where(i => ours[i].Truncated != expected[i].Untruncated > folder.MaxTokens).ToList();
        Assert.True(wronglyFlagged.Count == 0, $"{wronglyFlagged.Count} texts flagged wrongly as (not) truncated, e.g. text {wronglyFlagged.FirstOrDefault()}");
        Assert.Contains(ours, t => t.Truncated);
    }

    [Fact]
    public Task Embed_ThousandCorpusDocumentsWithMiniLm_MatchTransformersJs() =>
        EmbedAndCompareAsync(TrainedModelFolders.MiniLm(), "mean", 1000);

    [Fact]
    public Task Embed_CorpusDocumentsWithArcticXs_MatchTransformersJs() =>
        EmbedAndCompareAsync(TrainedModelFolders.ArcticXs(), "cls", 200);

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private async Task EmbedAndCompareAsync(EmbeddingModelFolder folder, string pooling, int count)
    {
        TransformersJs.Require();
        Assert.Equal(pooling == "cls" ? PoolingMode.Cls : PoolingMode.Mean, folder.Pooling);
        // Every 64th document, so that the sample spans the corpus, with the hostile texts that the model can embed.
        var documents = DebianCorpusFiles.Documents();
        var texts = Enumerable.Range(0, count).Select(i => documents[(int)((long)i * documents.Count / count)]).Concat(HostileTexts.All).ToList();
        var expected = await TransformersJs.EmbedAsync(TrainedModelFolders.ForTransformersJs(folder, _work), folder.MaxTokens, pooling, texts, Cancellation);

        using var session = new EmbeddingSession(folder);
        var cosines = new double[texts.Count];
        for (var start = 0; start < texts.Count; start += 16)
        {
            var batch = texts.Skip(start).Take(16).ToList();
            var vectors = session.Embed(batch, EmbeddingPurpose.Document);
            for (var i = 0; i < batch.Count; i++)
            {
                cosines[start + i] = TensorPrimitives.CosineSimilarity(vectors[i].Vector, expected[start + i]);
            }
        }

        var sorted = cosines.Order().ToArray();
        TestContext.Current.SendDiagnosticMessage(
            $"{folder.Name}: {texts.Count} texts, cosine against Transformers.js min {sorted[0]:F7}, median {sorted[sorted.Length / 2]:F7}");
        var worst = Array.IndexOf(cosines, sorted[0]);
        Assert.True(sorted[0] >= 0.99999, $"text {worst} '{Excerpt(texts[worst])}' has cosine {sorted[0]:F7} with Transformers.js' vector");
    }

    private static (TokenizedText[] Tokens, double TokensPerSecond) Tokenize(ITextTokenizer tokenizer, IReadOnlyList<string> texts)
    {
        var clock = Stopwatch.StartNew();
        var tokens = texts.Select(tokenizer.Tokenize).ToArray();
        return (tokens, tokens.Sum(t => (long)t.Ids.Length) / clock.Elapsed.TotalSeconds);
    }

    private static string Difference(string text, int[] ours, int[] expected)
    {
        var at = 0;
        while (at < ours.Length && at < expected.Length && ours[at] == expected[at])
        {
            at++;
        }

        var from = Math.Max(0, at - 3);
        return $"'{Excerpt(text)}' ({ours.Length} vs {expected.Length} ids) from id {at}: ours [{string.Join(' ', ours.Skip(from).Take(10))}] " +
            $"Transformers.js [{string.Join(' ', expected.Skip(from).Take(10))}]";
    }

    private static string Excerpt(string text) => (text.Length > 80 ? text[..80] + "…" : text).ReplaceLineEndings("⏎");
}
