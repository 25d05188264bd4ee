using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Pooling;
using Orleans.Embeddings.Inference.Sessions;
using Orleans.Embeddings.Inference.Tokenization;

namespace Orleans.Embeddings.Inference.Tests.Builders;

public sealed class EncoderModelBuilderTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("oe-encoder-").FullName;

    [Fact]
    public void TinyEncoder_MatchesThePlainCSharpForwardPass_AloneAndPaddedInABatch()
    {
        var (folder, weights) = new EncoderModelBuilder { Configuration = EncoderConfiguration.Tiny, Seed = 3 }.Build(StaticModelFixture.Corpus, _directory, "tiny");
        using var session = new EmbeddingSession(folder);
        var tokenizer = TextTokenizer.Create(folder);
        const string text = "a small and fast web server";

        var ids = tokenizer.Tokenize(text).Ids;
        var reference = new float[weights.Configuration.Hidden];
        var hidden = EncoderReference.Forward(weights, ids);
        VectorPooling.MaskedMean(hidden.SelectMany(r => r).ToArray(), Enumerable.Repeat(1L, ids.Length).ToArray(), reference.Length, reference);
        VectorPooling.Normalize(reference);

        var alone = session.Embed([text], EmbeddingPurpose.Document)[0].Vector;
        var padded = session.Embed(["web", text, "rust is a systems programming language focused on safety and speed"], EmbeddingPurpose.Document)[1].Vector;

        for (var d = 0; d < reference.Length; d++)
        {
            Assert.True(Math.Abs(reference[d] - alone[d]) < 1e-4, $"dimension {d}: reference {reference[d]}, ONNX {alone[d]}");
            Assert.True(Math.Abs(alone[d] - padded[d]) < 1e-5, $"dimension {d}: alone {alone[d]}, batched {padded[d]}");
        }
    }

    [Fact]
    public void Build_FolderLooksLikeASentenceTransformersExport()
    {
        var (folder, _) = new EncoderModelBuilder { Configuration = EncoderConfiguration.Tiny }.Build(StaticModelFixture.Corpus, _directory);

        Assert.Equal(32, folder.Dimensions);
        Assert.Equal(PoolingMode.Mean, folder.Pooling);
        Assert.True(folder.Normalize);
        Assert.Equal(64, folder.MaxTokens);
        Assert.True(File.Exists(Path.Combine(_directory, "modules.json")));
    }

    [Fact]
    public void FromPreset_UnknownName_ListsThePresets()
    {
        var error = Assert.Throws<ArgumentException>(() => EncoderConfiguration.FromPreset("large"));

        Assert.Contains("tiny or minilm-l6", error.Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
