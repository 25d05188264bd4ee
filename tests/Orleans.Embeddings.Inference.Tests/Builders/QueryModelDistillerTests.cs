using System.Numerics.Tensors;
using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Sessions;

namespace Orleans.Embeddings.Inference.Tests.Builders;

public sealed class QueryModelDistillerTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("oe-query-model-").FullName;

    [Fact]
    public void Distill_TinyEncoder_WritesALoadableNormalisedModelWithTheDocumentModelsShapeAndVocabulary()
    {
        var (document, _) = BuildEncoder();

        var distillation = new QueryModelDistiller { MaxTexts = 200 }.Distill(document, Corpus(200, seed: 1), Path.Combine(_directory, "query"), "tiny-query", cancellationToken: TestContext.Current.CancellationToken);

        var folder = EmbeddingModelFolder.Load(Path.Combine(_directory, "query"));
        Assert.Equal("tiny-query", folder.Name);
        Assert.Equal(document.Dimensions, folder.Dimensions);
        Assert.Equal(PoolingMode.Mean, folder.Pooling);
        Assert.True(folder.Normalize);
        Assert.Equal(document.MaxTokens, folder.MaxTokens);
        Assert.Equal(File.ReadAllBytes(document.TokenizerPath), File.ReadAllBytes(folder.TokenizerPath));
        Assert.Equal(folder.Directory, distillation.Folder.Directory);
        Assert.Equal(200, distillation.TextsUsed);

        using var session = new EmbeddingSession(folder);
        var vectors = session.Embed(["a fast web server", "image editor", "Zebra!"], EmbeddingPurpose.Query);
        Assert.All(vectors, v => Assert.Equal(1f, TensorPrimitives.Norm(v.Vector), 1e-4f));
    }

    [Fact]
    public void Distill_TinyEncoder_AgreesWithTheDocumentModelOnUnseenTextsFarBetterThanTheTokenInitialisation()
    {
        var (document, _) = BuildEncoder();

        var distillation = new QueryModelDistiller { MaxTexts = 400, QueriesPerText = 4 }.Distill(document, Corpus(400, seed: 1), Path.Combine(_directory, "query"), cancellationToken: TestContext.Current.CancellationToken);

        // On the held-out spans, as the distiller reports it. A random encoder's vectors all point much the same way
        // (two different spans have a cosine near 0.95), so the mean cosine is read against that floor: the fitted
        // model closes most of the gap from it to 1; the initial table (tokens embedded alone) is below it.
        var floor = distillation.HeldOutCosineBetweenSpans;
        Assert.True(distillation.Before.MeanCosine < floor + ((1 - floor) / 2), $"initial table: mean cosine {distillation.Before.MeanCosine:F3}, floor {floor:F3}");
        Assert.True(distillation.After.MeanCosine > floor + ((1 - floor) / 2), $"distilled: mean cosine {distillation.After.MeanCosine:F3}, floor {floor:F3}");
        Assert.True(distillation.After.NearestAgreement > 0.8, $"nearest agreement {distillation.Before.NearestAgreement:P0} → {distillation.After.NearestAgreement:P0}");
        Assert.True(distillation.Before.NearestAgreement < 0.2, $"nearest agreement of the initial table {distillation.Before.NearestAgreement:P0}");
        // The refinement adds little after the least-squares map (on this encoder); it must not undo it.
        Assert.True(distillation.After.NearestAgreement >= distillation.AfterLinearFit.NearestAgreement - 0.02, $"refinement: {distillation.AfterLinearFit.NearestAgreement:P0} → {distillation.After.NearestAgreement:P0}");

        // ...and through ONNX Runtime, on texts of another draw: the folder written holds the table that was measured.
        using var documentSession = new EmbeddingSession(document);
        using var querySession = new EmbeddingSession(distillation.Folder);
        var unseen = Corpus(100, seed: 2).Select(t => string.Join(' ', t.Split(' ').Take(6))).ToArray();
        var targets = documentSession.Embed(unseen, EmbeddingPurpose.Query);
        var queries = querySession.Embed(unseen, EmbeddingPurpose.Query);
        var meanCosine = unseen.Select((_, i) => TensorPrimitives.CosineSimilarity(targets[i].Vector, queries[i].Vector)).Average();
        var betweenTexts = unseen.Skip(1).Select((_, i) => TensorPrimitives.CosineSimilarity(targets[i].Vector, targets[i + 1].Vector)).Average();
        Assert.True(meanCosine > betweenTexts + ((1 - betweenTexts) / 2), $"query model vs document model {meanCosine:F3}, two different texts {betweenTexts:F3}");
    }

    [Fact]
    public void Distill_SentencePieceDocumentModel_ThrowsNamingTheTokenizer()
    {
        var (document, _) = BuildEncoder();
        File.Delete(document.TokenizerPath);
        File.WriteAllBytes(Path.Combine(document.Directory, "spiece.model"), [0]);
        var sentencePiece = EmbeddingModelFolder.Load(document.Directory);

        var error = Assert.Throws<ModelFolderException>(() => new QueryModelDistiller().Distill(sentencePiece, Corpus(10, seed: 1), Path.Combine(_directory, "query"), cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains("SentencePiece", error.Message, StringComparison.Ordinal);
        Assert.Contains("WordPiece vocabulary (vocab.txt)", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_directory, "query")));
    }

    [Fact]
    public void Distill_CorpusWithoutWords_ThrowsSayingSo()
    {
        var (document, _) = BuildEncoder();

        var error = Assert.Throws<ArgumentException>(() => new QueryModelDistiller().Distill(document, ["", "   "], Path.Combine(_directory, "query"), cancellationToken: TestContext.Current.CancellationToken));

        Assert.Contains("corpus has no words", error.Message, StringComparison.Ordinal);
    }

    private (EmbeddingModelFolder Folder, EncoderWeights Weights) BuildEncoder() =>
        new EncoderModelBuilder { Configuration = EncoderConfiguration.Tiny, Seed = 3 }.Build(Corpus(400, seed: 1).Concat(StaticModelFixture.Corpus), Path.Combine(_directory, "document"), "tiny");

    // Package-description-like sentences from a few word lists: enough distinct texts to fit on and hold out.
    private static string[] Corpus(int count, int seed)
    {
        string[] subjects = ["PostgreSQL", "SQLite", "GIMP", "Inkscape", "nginx", "Apache", "Python", "Rust", "Emacs", "Vim", "curl", "rsync"];
        string[] kinds = ["a small", "a fast", "an interactive", "a popular", "an embeddable", "a graphical", "a command-line", "a secure"];
        string[] things = ["database server", "image editor", "web server", "programming language", "text editor", "file transfer tool", "vector graphics editor", "reverse proxy"];
        string[] purposes = ["for photo retouching", "focused on safety", "for systems programming", "with a plugin system", "for remote backups", "for scientific computing", "with SQL support", "for the desktop"];
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ =>
            $"{subjects[random.Next(subjects.Length)]} is {kinds[random.Next(kinds.Length)]} {things[random.Next(things.Length)]} {purposes[random.Next(purposes.Length)]}, " +
            $"and {kinds[random.Next(kinds.Length)]} {things[random.Next(things.Length)]} {purposes[random.Next(purposes.Length)]}.")];
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
