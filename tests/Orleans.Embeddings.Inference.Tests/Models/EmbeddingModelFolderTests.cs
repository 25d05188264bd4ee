using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Onnx;
using Orleans.Embeddings.Inference.Sessions;
using Orleans.Embeddings.Inference.Tokenization;

namespace Orleans.Embeddings.Inference.Tests.Models;

public sealed class EmbeddingModelFolderTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("oe-folder-").FullName;

    [Fact]
    public void Load_NoModelFile_NamesTheMissingFile()
    {
        File.WriteAllText(Path.Combine(_directory, "vocab.txt"), "[PAD]\n");

        var error = Assert.Throws<ModelFolderException>(() => EmbeddingModelFolder.Load(_directory));

        Assert.Contains("has no model.onnx (nor onnx/model.onnx)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NoVocabulary_NamesTheMissingFile()
    {
        Build();
        File.Delete(Path.Combine(_directory, "vocab.txt"));

        var error = Assert.Throws<ModelFolderException>(() => EmbeddingModelFolder.Load(_directory));

        Assert.Contains("has no tokenizer: neither vocab.txt (WordPiece) nor a SentencePiece *.model file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_OnnxSubfolderLayout_IsFound()
    {
        Build();
        Directory.CreateDirectory(Path.Combine(_directory, "onnx"));
        File.Move(Path.Combine(_directory, "model.onnx"), Path.Combine(_directory, "onnx", "model.onnx"));

        var folder = EmbeddingModelFolder.Load(_directory);

        Assert.EndsWith(Path.Combine("onnx", "model.onnx"), folder.ModelPath, StringComparison.Ordinal);
    }

    [Fact]
    public void Session_CorruptGraph_NamesTheFile()
    {
        Build();
        File.WriteAllBytes(Path.Combine(_directory, "model.onnx"), [1, 2, 3, 4, 5]);

        var error = Assert.Throws<ModelFolderException>(() => new EmbeddingSession(EmbeddingModelFolder.Load(_directory)));

        Assert.Contains("model.onnx could not be loaded by ONNX Runtime", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Session_ManifestDimensionsDisagreeWithTheGraph_SaysBoth()
    {
        Build();
        File.WriteAllText(Path.Combine(_directory, EmbeddingModelManifest.FileName), """{"dimensions": 10, "outputName": "token_embeddings"}""");

        var error = Assert.Throws<ModelFolderException>(() => new EmbeddingSession(EmbeddingModelFolder.Load(_directory)));

        Assert.Contains("produces 16 dimensions but the folder says 10", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Session_GraphWithUnknownInput_NamesIt()
    {
        Build();
        File.WriteAllBytes(Path.Combine(_directory, "model.onnx"), new OnnxGraphBuilder("images")
            .AddInput("pixel_values", OnnxElementType.Float, "batch", 16L)
            .AddOutput("token_embeddings", OnnxElementType.Float, "batch", 16L)
            .AddNode("Identity", ["pixel_values"], ["token_embeddings"])
            .Build());

        var error = Assert.Throws<ModelFolderException>(() => new EmbeddingSession(EmbeddingModelFolder.Load(_directory)));

        Assert.Contains("unknown: pixel_values", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BadPoolingInManifest_NamesTheManifest()
    {
        Build();
        File.WriteAllText(Path.Combine(_directory, EmbeddingModelManifest.FileName), """{"pooling": "max"}""");

        var error = Assert.Throws<ModelFolderException>(() => EmbeddingModelFolder.Load(_directory));

        Assert.Contains("embedding.json: pooling 'max' must be mean, cls or none", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Embed_MatryoshkaLengthFromTheManifest_IsUnitLengthAndShorter()
    {
        Build();
        var manifestPath = Path.Combine(_directory, EmbeddingModelManifest.FileName);
        File.WriteAllText(manifestPath, File.ReadAllText(manifestPath).Replace("\"maxTokens\"", "\"matryoshkaDimensions\": [8], \"maxTokens\"", StringComparison.Ordinal));
        using var session = new EmbeddingSession(EmbeddingModelFolder.Load(_directory));

        var vector = session.Embed(["web server"], EmbeddingPurpose.Query, dimensions: 8)[0].Vector;

        Assert.Equal(8, vector.Length);
        Assert.Equal(1.0, Math.Sqrt(vector.Sum(v => (double)v * v)), 5);
    }

    [Fact]
    public void Tokenize_SampleText_LowerCasesSplitsPunctuationAndAddsClsSep()
    {
        var folder = Build();
        var vocabulary = File.ReadAllLines(folder.TokenizerPath);
        var tokenizer = TextTokenizer.Create(folder);

        var tokens = tokenizer.Tokenize("Web SERVER, café!").Ids.Select(id => vocabulary[id]);

        Assert.Equal(["[CLS]", "web", "server", "[UNK]", "cafe", "[UNK]", "[SEP]"], tokens);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private EmbeddingModelFolder Build() =>
        new StaticEmbeddingModelBuilder { Dimensions = 16, MaxTokens = 32 }.Build(["web server", "the café"], _directory);
}
