using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Sessions;

namespace Orleans.Embeddings.Inference.Tests.Sessions;

public sealed class EmbeddingSessionTests(StaticModelFixture model) : IClassFixture<StaticModelFixture>
{
    [Fact]
    public void Embed_StaticModel_ReturnsUnitVectorsOfTheDeclaredLength()
    {
        using var session = new EmbeddingSession(model.Folder);

        var embeddings = session.Embed(["a SQL database server", "an image editor"], EmbeddingPurpose.Document);

        Assert.All(embeddings, e => Assert.Equal(64, e.Vector.Length));
        Assert.All(embeddings, e => Assert.Equal(1.0, Math.Sqrt(e.Vector.Sum(v => (double)v * v)), 5));
    }

    [Fact]
    public void Embed_AloneOrBatchedWithLongerAndShorterTexts_GivesTheSameVector()
    {
        using var session = new EmbeddingSession(model.Folder);
        const string text = "postgresql database server";

        var alone = session.Embed([text], EmbeddingPurpose.Document)[0].Vector;
        var batched = session.Embed(["web", text, "a much longer text about the rust programming language and its safety"], EmbeddingPurpose.Document)[1].Vector;

        Assert.Equal(alone.Length, batched.Length);
        for (var i = 0; i < alone.Length; i++)
        {
            Assert.True(Math.Abs(alone[i] - batched[i]) <= 1e-5, $"component {i}: {alone[i]} vs {batched[i]}");
        }
    }

    [Fact]
    public void Embed_TextsSharingRareWords_AreCloserThanUnrelatedTexts()
    {
        using var session = new EmbeddingSession(model.Folder);

        var vectors = session.Embed(["sql database server", "embeddable sql database engine", "image editor for photo retouching"], EmbeddingPurpose.Query)
            .Select(e => e.Vector).ToArray();

        Assert.True(Dot(vectors[0], vectors[1]) > Dot(vectors[0], vectors[2]) + 0.2, $"{Dot(vectors[0], vectors[1])} vs {Dot(vectors[0], vectors[2])}");
    }

    [Fact]
    public void Embed_TextLongerThanTheTokenLimit_IsTruncatedAndSaysSo()
    {
        using var session = new EmbeddingSession(model.Folder);

        var result = session.Embed([string.Join(' ', Enumerable.Repeat("database server", 20)), "web server"], EmbeddingPurpose.Document);

        Assert.True(result[0].Truncated);
        Assert.Equal(16, result[0].TokenCount);
        Assert.False(result[1].Truncated);
        Assert.Equal(4, result[1].TokenCount);
    }

    [Fact]
    public void Embed_TextsTokenizedFirst_GiveTheSameVectorsTokenCountsAndTruncation()
    {
        using var session = new EmbeddingSession(model.Folder);
        string[] texts = ["web", "postgresql database server", string.Join(' ', Enumerable.Repeat("sql database", 40))];

        var direct = session.Embed(texts, EmbeddingPurpose.Document);
        var tokenized = session.Embed([.. texts.Select(t => session.Tokenize(t, EmbeddingPurpose.Document))]);

        Assert.Equal(direct.Select(e => (e.TokenCount, e.Truncated)), tokenized.Select(e => (e.TokenCount, e.Truncated)));
        Assert.True(tokenized[2].Truncated);
        Assert.All(direct.Zip(tokenized), p => Assert.Equal(p.First.Vector, p.Second.Vector));
    }

    [Fact]
    public void Embed_TokensBeyondTheLimitOrNone_ThrowsNamingTheText()
    {
        using var session = new EmbeddingSession(model.Folder);
        var fine = session.Tokenize("web server", EmbeddingPurpose.Document);

        var tooLong = Assert.Throws<ArgumentException>(() => session.Embed([fine, new(new int[model.Folder.MaxTokens + 1], false)]));
        var empty = Assert.Throws<ArgumentException>(() => session.Embed([new([], false)]));

        Assert.Contains($"Text 1 has {model.Folder.MaxTokens + 1} tokens", tooLong.Message, StringComparison.Ordinal);
        Assert.Contains("Text 0 has 0 tokens", empty.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Embed_DimensionsTheModelDoesNotAllow_ThrowsListingTheAllowedOnes()
    {
        using var session = new EmbeddingSession(model.Folder);

        var error = Assert.Throws<ArgumentException>(() => session.Embed(["x"], EmbeddingPurpose.Query, dimensions: 32));

        Assert.Contains("allowed: 64", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_CudaDeviceWithTheCpuRuntime_FailsNamingTheSwitch()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            new EmbeddingSession(model.Folder, new EmbeddingSessionOptions { Device = InferenceDevice.Parse("cuda:0") }));

        Assert.Contains("cuda:0", error.Message, StringComparison.Ordinal);
        Assert.Contains("-p:OnnxRuntimeGpu=true", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:x")]
    public void ParseDevice_Unknown_ThrowsFormatException(string name)
    {
        Assert.Throws<FormatException>(() => InferenceDevice.Parse(name));
    }

    [Fact]
    public void Registry_SameModelAndDevice_SharesOneSession()
    {
        using var registry = new EmbeddingSessionRegistry();
        var options = new EmbeddingSessionOptions();

        var sessions = Enumerable.Range(0, 8).AsParallel().Select(_ => registry.GetOrCreate(model.Folder, options)).ToList();

        Assert.All(sessions, s => Assert.Same(sessions[0], s));
    }

    [Fact]
    public void Registry_SessionThatFailsToLoad_IsNotKept()
    {
        using var registry = new EmbeddingSessionRegistry();
        var cuda = new EmbeddingSessionOptions { Device = InferenceDevice.Parse("cuda:1") };

        Assert.Throws<InvalidOperationException>(() => registry.GetOrCreate(model.Folder, cuda));
        Assert.Throws<InvalidOperationException>(() => registry.GetOrCreate(model.Folder, cuda));
        Assert.NotNull(registry.GetOrCreate(model.Folder, new EmbeddingSessionOptions()));
    }

    [Fact]
    public async Task Dispose_WhileOtherThreadsRun_WaitsForTheirRunsAndRefusesNewOnes()
    {
        // A silo that stops without deactivating its workers disposes the sessions while batcher threads may still be
        // inside a run; releasing the native session under them crashed the process (exit 139).
        var texts = Enumerable.Range(0, 256).Select(i => $"package {i} provides a database server and a web server").ToArray();
        for (var round = 0; round < 20; round++)
        {
            var session = new EmbeddingSession(model.Folder);
            var runs = 0L;
            var started = new CountdownEvent(4);
            var runners = Enumerable.Range(0, 4).Select(_ => Task.Factory.StartNew(
                () =>
                {
                    started.Signal();
                    try
                    {
                        while (true)
                        {
                            Assert.Equal(texts.Length, session.Embed(texts, EmbeddingPurpose.Document).Count);
                            Interlocked.Increment(ref runs);
                        }
                    }
                    catch (ObjectDisposedException)
                    {
                        return;
                    }
                },
                TaskCreationOptions.LongRunning)).ToArray();
            started.Wait(TestContext.Current.CancellationToken);
            await Task.Delay(round % 5, TestContext.Current.CancellationToken);

            session.Dispose();
            session.Dispose();

            await Task.WhenAll(runners).WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
            Assert.Throws<ObjectDisposedException>(() => session.Embed(["after"], EmbeddingPurpose.Document));
        }
    }

    private static double Dot(float[] a, float[] b) => a.Zip(b, (x, y) => (double)x * y).Sum();
}
