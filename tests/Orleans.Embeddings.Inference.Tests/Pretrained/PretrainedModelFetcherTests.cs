using System.Diagnostics;
using System.Text.Json.Nodes;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Pretrained;
using Orleans.Embeddings.Inference.Sessions;

namespace Orleans.Embeddings.Inference.Tests.Pretrained;

/// <summary>
/// <c>models fetch</c>'s mechanism against the real packages (from the NuGet cache after the first run): a complete,
/// loadable folder; idempotence; and each failure named, with nothing half-written left behind.
/// </summary>
public sealed class PretrainedModelFetcherTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("oe-fetch-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task FetchAsync_MiniLm_WritesCompleteSentenceTransformersFolder()
    {
        var directory = Path.Combine(_root, "minilm");

        var fetch = await new PretrainedModelFetcher().FetchAsync(PretrainedModel.Find("minilm"), directory, TestContext.Current.CancellationToken);

        Assert.False(fetch.AlreadyPresent);
        foreach (var file in new[] { "model.onnx", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "config.json", "modules.json", "1_Pooling/config.json", "embedding.json", "source.json" })
        {
            Assert.True(File.Exists(Path.Combine(directory, file)), $"{file} is missing");
        }

        var folder = fetch.Folder;
        Assert.Equal((384, PoolingMode.Mean, true, 256, string.Empty), (folder.Dimensions, folder.Pooling, folder.Normalize, folder.MaxTokens, folder.QueryPrefix));
        var vocabulary = File.ReadAllLines(folder.TokenizerPath);
        Assert.Equal(30_522, vocabulary.Length);
        Assert.DoesNotContain(File.ReadAllText(folder.TokenizerPath), c => c == '\r');
        Assert.Equal(("[PAD]", "[UNK]", "[CLS]", "[SEP]"), (vocabulary[0], vocabulary[100], vocabulary[101], vocabulary[102]));
        var tokenizer = JsonNode.Parse(File.ReadAllText(Path.Combine(directory, "tokenizer.json")))!;
        Assert.Equal("BertNormalizer", tokenizer["normalizer"]!["type"]!.GetValue<string>());
        Assert.Equal(30_522, tokenizer["model"]!["vocab"]!.AsObject().Count);
        Assert.Empty(Directory.GetDirectories(_root, "*.partial-*"));

        // The graph runs and gives unit vectors: the folder is a model, not only files.
        using var session = new EmbeddingSession(folder);
        var vector = session.Embed(["This is an example sentence"], EmbeddingPurpose.Document)[0].Vector;
        Assert.Equal(384, vector.Length);
        Assert.InRange(MathF.Sqrt(vector.Sum(v => v * v)), 0.999f, 1.001f);
    }

    [Fact]
    public async Task FetchAsync_ArcticXs_StatesClsPoolingAndQueryPrefix()
    {
        var fetch = await new PretrainedModelFetcher().FetchAsync(PretrainedModel.Find("arctic-xs"), Path.Combine(_root, "arctic"), TestContext.Current.CancellationToken);

        Assert.Equal((PoolingMode.Cls, 512, "Represent this sentence for searching relevant passages: "), (fetch.Folder.Pooling, fetch.Folder.MaxTokens, fetch.Folder.QueryPrefix));
    }

    [Fact]
    public async Task FetchAsync_Twice_SecondVerifiesAndWritesNothing()
    {
        var directory = Path.Combine(_root, "minilm");
        var fetcher = new PretrainedModelFetcher();
        await fetcher.FetchAsync(PretrainedModel.Find("minilm"), directory, TestContext.Current.CancellationToken);
        var written = File.GetLastWriteTimeUtc(Path.Combine(directory, "model.onnx"));

        var again = await fetcher.FetchAsync(PretrainedModel.Find("minilm"), directory, TestContext.Current.CancellationToken);

        Assert.True(again.AlreadyPresent);
        Assert.False(again.Downloaded);
        Assert.Equal(written, File.GetLastWriteTimeUtc(Path.Combine(directory, "model.onnx")));
    }

    [Fact]
    public async Task FetchAsync_InParallelIntoOneFolder_BothSucceed()
    {
        var directory = Path.Combine(_root, "minilm");
        var model = PretrainedModel.Find("minilm");

        var fetches = await Task.WhenAll(
            Task.Run(() => new PretrainedModelFetcher().FetchAsync(model, directory, TestContext.Current.CancellationToken)),
            Task.Run(() => new PretrainedModelFetcher().FetchAsync(model, directory, TestContext.Current.CancellationToken)));

        Assert.Single(fetches, f => f.AlreadyPresent);
        Assert.Empty(Directory.GetDirectories(_root, "*.partial-*"));
    }

    [Fact]
    public async Task FetchAsync_WrongChecksum_NamesTheResourceAndLeavesNoFolder()
    {
        var model = PretrainedModel.Find("minilm");
        var tampered = model with { Model = model.Model with { Sha256 = new string('0', 64) } };
        var directory = Path.Combine(_root, "minilm");

        var error = await Assert.ThrowsAsync<ModelFetchException>(() => new PretrainedModelFetcher().FetchAsync(tampered, directory, TestContext.Current.CancellationToken));

        Assert.Contains(model.Model.ResourceName, error.Message, StringComparison.Ordinal);
        Assert.Contains("SHA-256 " + model.Model.Sha256, error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(directory));
        Assert.Empty(Directory.GetDirectories(_root, "*.partial-*"));
    }

    [Fact]
    public async Task FetchAsync_PackageNotOnAnySource_NamesThePackage()
    {
        var missing = PretrainedModel.Find("minilm") with { PackageId = "Orleans.Embeddings.NoSuchModelPackage", PackageVersion = "0.0.1" };

        var error = await Assert.ThrowsAsync<ModelFetchException>(() => new PretrainedModelFetcher().FetchAsync(missing, Path.Combine(_root, "missing"), TestContext.Current.CancellationToken));

        Assert.Contains("Orleans.Embeddings.NoSuchModelPackage 0.0.1 could not be downloaded", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_root, "missing")));
    }

    [Fact]
    public async Task FetchAsync_FolderHoldingSomethingElse_RefusesAndTouchesNothing()
    {
        var directory = Directory.CreateDirectory(Path.Combine(_root, "mine")).FullName;
        await File.WriteAllTextAsync(Path.Combine(directory, "notes.txt"), "mine", TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<ModelFetchException>(() => new PretrainedModelFetcher().FetchAsync(PretrainedModel.Find("minilm"), directory, TestContext.Current.CancellationToken));

        Assert.Contains("is not a complete fetch of minilm", error.Message, StringComparison.Ordinal);
        Assert.Equal(["notes.txt"], Directory.GetFiles(directory).Select(Path.GetFileName));
    }

    [Fact]
    public async Task FetchAsync_DiskFull_SaysSoAndLeavesNothing()
    {
        // A 20 MiB file system cannot hold the 91 MB graph. Mounting one needs root, which CI runs as.
        if (Environment.UserName != "root")
        {
            Assert.SkipWhen(Environment.GetEnvironmentVariable("CI") != "true", "mounting a small tmpfs needs root");
            Assert.Fail("CI must run as root to mount the small file system this test fills");
        }

        var small = Path.Combine(_root, "small");
        Directory.CreateDirectory(small);
        Run("mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", small);
        try
        {
            var directory = Path.Combine(small, "minilm");

            var error = await Assert.ThrowsAsync<ModelFetchException>(() => new PretrainedModelFetcher().FetchAsync(PretrainedModel.Find("minilm"), directory, TestContext.Current.CancellationToken));

            Assert.Contains("the disk is full", error.Message, StringComparison.Ordinal);
            Assert.Empty(Directory.GetFileSystemEntries(small));
        }
        finally
        {
            Run("umount", small);
        }
    }

    private static void Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} failed: {error}");
    }
}
