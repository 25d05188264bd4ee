using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Onnx;
using Orleans.Embeddings.Inference.Sessions;
using Orleans.Embeddings.Inference.Tokenization;

namespace Orleans.Embeddings.Inference.Tests.Tokenization;

/// <summary>A model folder with a SentencePiece (BPE) tokenizer, written here in sentencepiece's protobuf format.</summary>
public sealed class SentencePieceTests : IDisposable
{
    private const string Space = "\u2581";
    private const int Dimensions = 8;
    private readonly string _directory = Directory.CreateTempSubdirectory("oe-spm-").FullName;
    private readonly List<string> _pieces;

    public SentencePieceTests()
    {
        // Control pieces first, then characters, then every prefix of the two words so BPE can merge up to them.
        _pieces = ["<unk>", "<s>", "</s>", "<pad>", Space, "h", "e", "l", "o", "w", "r", "d"];
        foreach (var word in new[] { "hello", "world" })
        {
            for (var n = 1; n <= word.Length; n++)
            {
                _pieces.Add(Space + word[..n]);
            }
        }

        var model = new ProtoWriter();
        for (var i = 0; i < _pieces.Count; i++)
        {
            var type = i switch { 0 => 2L, < 4 => 3L, _ => 1L }; // UNKNOWN, CONTROL, NORMAL
            var score = i < 4 ? 0f : i; // longer merges score higher
            model.Message(1, piece => piece.String(1, _pieces[i]).Float(2, score).Int64(3, type));
        }

        model.Message(2, trainer => trainer.Int64(3, 2).Int64(4, _pieces.Count).Int64(40, 0).Int64(41, 1).Int64(42, 2).Int64(43, 3)); // BPE
        model.Message(3, normalizer => normalizer.String(1, "identity").Int64(3, 1).Int64(4, 1).Int64(5, 1));
        File.WriteAllBytes(Path.Combine(_directory, "sentencepiece.bpe.model"), model.ToArray());

        var table = Enumerable.Range(0, _pieces.Count * Dimensions).Select(i => (float)Math.Sin(i)).ToArray();
        File.WriteAllBytes(Path.Combine(_directory, "model.onnx"), new OnnxGraphBuilder("spm")
            .AddInput("input_ids", OnnxElementType.Int64, "batch", "tokens")
            .AddInput("attention_mask", OnnxElementType.Int64, "batch", "tokens")
            .AddOutput("token_embeddings", OnnxElementType.Float, "batch", "tokens", (long)Dimensions)
            .AddInitializer("table", table, _pieces.Count, Dimensions)
            .AddNode("Gather", ["table", "input_ids"], ["token_embeddings"], new Dictionary<string, object> { ["axis"] = 0L })
            .Build());
        File.WriteAllText(Path.Combine(_directory, EmbeddingModelManifest.FileName), $$"""{"dimensions": {{Dimensions}}, "maxTokens": 6}""");
    }

    [Fact]
    public void Load_FolderWithAModelFileAndNoVocabulary_UsesSentencePiece()
    {
        var folder = EmbeddingModelFolder.Load(_directory);

        Assert.Equal(TokenizerKind.SentencePiece, folder.Tokenizer);
        Assert.EndsWith("sentencepiece.bpe.model", folder.TokenizerPath, StringComparison.Ordinal);
    }

    [Fact]
    public void Tokenize_Words_MergesThemAndAddsBeginAndEnd()
    {
        var tokenizer = TextTokenizer.Create(EmbeddingModelFolder.Load(_directory));

        var tokens = tokenizer.Tokenize("hello world");

        Assert.Equal(["<s>", Space + "hello", Space + "world", "</s>"], tokens.Ids.Select(id => _pieces[id]));
        Assert.False(tokens.Truncated);
        Assert.Equal(3, tokenizer.PaddingId);
    }

    [Fact]
    public void Tokenize_PastTheTokenLimit_IsCutAndSaysSo()
    {
        var tokenizer = TextTokenizer.Create(EmbeddingModelFolder.Load(_directory));

        var tokens = tokenizer.Tokenize("hello world hello world hello world");

        Assert.True(tokens.Truncated);
        Assert.True(tokens.Ids.Length <= 6);
    }

    [Fact]
    public void Embed_SentencePieceFolder_GivesTheSameVectorAloneAndBatched()
    {
        using var session = new EmbeddingSession(EmbeddingModelFolder.Load(_directory));

        var alone = session.Embed(["hello"], EmbeddingPurpose.Document)[0].Vector;
        var batched = session.Embed(["hello world world", "hello"], EmbeddingPurpose.Document)[1].Vector;

        Assert.All(alone.Zip(batched), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-5));
    }

    [Fact]
    public void Load_CorruptModelFile_NamesIt()
    {
        File.WriteAllBytes(Path.Combine(_directory, "sentencepiece.bpe.model"), [0xFF, 0xFF, 0xFF]);

        var error = Assert.Throws<ModelFolderException>(() => TextTokenizer.Create(EmbeddingModelFolder.Load(_directory)));

        Assert.Contains("sentencepiece.bpe.model is not a usable SentencePiece model", error.Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
