using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Client.Search;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Pooling;
using Orleans.Embeddings.Inference.Sessions;
using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Search;
using Orleans.Embeddings.Storage.Naming;
using Orleans.Embeddings.Tests.Indexing;
using static Orleans.Embeddings.Tests.Rollouts.RolloutAssertions;

namespace Orleans.Embeddings.Tests.Rollouts;

/// <summary>
/// Compact representations through the rollout machinery: a collection moves from fp32 to binary quantization with an
/// exact rerank under live changes, a version truncates to a Matryoshka length and embeds queries with its own query
/// model, and registrations that cannot work are refused naming the problem.
/// </summary>
public sealed class CompactRolloutTests(IndexerCluster indexer) : IClassFixture<IndexerCluster>
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task A_rollout_from_fp32_to_binary_with_rerank_under_live_changes_converges_and_pins_every_search_to_one_version()
    {
        var ct = TestContext.Current.CancellationToken;
        const string collection = "to-binary";
        const int stable = 100;
        await indexer.CreateCollectionAsync(collection);
        await using var publisher = indexer.CreatePublisher();
        await publisher.PublishManyAsync(
            [.. Enumerable.Range(0, stable).Select(j => new DocumentChange(collection, $"s{j}", DocumentOperation.Upsert, 1, StableText(j), "{}"))], ct);
        var producer = new LiveProducer(publisher, collection, documents: 1000);
        await producer.SeedAsync(ct);
        await indexer.WaitForAsync($"SELECT count(*) FROM {Table(collection, "v1")} WHERE $1::text IS NOT NULL", "x", 1000 + stable, Long);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var live = producer.RunAsync(perBatch: 20, TimeSpan.FromMilliseconds(50), stop.Token);
        var coordinator = indexer.Cluster.Client.GetGrain<IVersionCoordinatorGrain>(collection);
        var registered = await coordinator.RegisterModelAsync(
            "v2", new ModelRegistration(indexer.SecondModelDirectory) { Representation = VectorRepresentation.Binary, RerankOversample = 8, BinaryBits = 2 });
        Assert.Equal("binary(48x2)+halfvec rerank x8", registered.Representation);
        await coordinator.StartRolloutAsync("v2");
        var ready = await WaitForStatusAsync(coordinator, s => s.Version("v2").State == VersionState.Ready, Long, "v2 Ready");
        Assert.Equal("vector(64)", ready.Version("v1").Representation);
        Assert.Equal("binary(48x2)+halfvec rerank x8", ready.Version("v2").Representation);
        var index = await ScalarAsync(
            $"SELECT indexdef FROM pg_indexes WHERE tablename = '{StorageNames.VersionTableName(collection, "v2")}' AND indexdef LIKE '%hnsw%'");
        Assert.Contains("_code(embedding)", (string)index!, StringComparison.Ordinal); // the quantizer holding the recorded centre
        Assert.NotNull((await new Orleans.Embeddings.Storage.Versions.CollectionCatalog(indexer.DataSource).GetVersionAsync(collection, "v2", ct))!.QuantizationCenter);
        Assert.Contains("bit_hamming_ops", (string)index!, StringComparison.Ordinal);
        Assert.Contains("::bit(96)", (string)index!, StringComparison.Ordinal); // two bits per dimension

        // Half the routing keys go to the binary version. Every answer's hits come from the version that embedded its
        // query: the stable documents' own texts find themselves with score 1 (v1 and v2 are different models).
        var status = await coordinator.SetTrafficAsync("v2", 50);
        await indexer.WaitForAsync($"SELECT count(*) FROM embeddings_routing_acks WHERE collection = '{collection}' AND epoch >= $1", status.Epoch, 2, TimeSpan.FromSeconds(10));
        var client = new EmbeddingSearchClient(indexer.Cluster.Client, Options.Create(new EmbeddingSearchOptions { DefaultK = 5 }));
        var versions = new Dictionary<string, int>();
        for (var i = 0; i < 400; i++)
        {
            var j = i % stable;
            var response = await client.SearchAsync(collection, StableText(j), routingKey: $"user-{i}", cancellationToken: ct);
            Assert.All(response.Hits, h => Assert.Equal(response.Version, h.Version));
            Assert.True(response.Hits.Count > 0 && response.Hits[0].Id == $"s{j}" && response.Hits[0].Score > 0.999,
                $"on {response.Version}, s{j}'s own text found {(response.Hits.Count == 0 ? "nothing" : $"{response.Hits[0].Id} at {response.Hits[0].Score:F4}")}");
            versions[response.Version] = versions.GetValueOrDefault(response.Version) + 1;
        }

        Assert.True(versions.GetValueOrDefault("v1") > 100 && versions.GetValueOrDefault("v2") > 100, $"split: {string.Join(", ", versions)}");
        await stop.CancelAsync();
        await live;

        var expected = producer.Expected.ToDictionary(e => e.Key, e => e.Value);
        foreach (var j in Enumerable.Range(0, stable))
        {
            expected[$"s{j}"] = (1, false);
        }

        await WaitForTableToMatchAsync(indexer.DataSource, collection, "v1", expected, Long);
        await WaitForTableToMatchAsync(indexer.DataSource, collection, "v2", expected, Long);
    }

    [Fact]
    public async Task A_version_with_a_matryoshka_length_and_a_query_model_embeds_documents_and_queries_with_each_truncated()
    {
        var ct = TestContext.Current.CancellationToken;
        const string collection = "matryoshka";
        await indexer.CreateCollectionAsync(collection);
        var documents = CopyModel(indexer.SecondModelDirectory, manifest => manifest["matryoshkaDimensions"] = new JsonArray(16, 32));
        var queries = Directory.CreateTempSubdirectory("oe-query-model-").FullName;
        new StaticEmbeddingModelBuilder { Dimensions = 48, MaxTokens = 32, Seed = 11 }.Build(Enumerable.Range(0, 500).Select(IndexerCluster.Text), queries, "query-model");
        var coordinator = indexer.Cluster.Client.GetGrain<IVersionCoordinatorGrain>(collection);

        var registered = await coordinator.RegisterModelAsync(
            "v2", new ModelRegistration(documents) { Representation = VectorRepresentation.Float16, Dimensions = 32, QueryModelPath = queries });

        Assert.Equal("halfvec(32)", registered.Representation);
        Assert.Equal(queries, registered.QueryModelPath);
        var worker = indexer.Worker(collection, "v2", indexer.Cluster.Silos[0].Name);
        var text = IndexerCluster.Text(42);
        var documentVector = (await worker.EmbedAsync([text], TextKind.Document))[0];
        var queryVector = (await worker.EmbedAsync([text], TextKind.Query))[0];
        using var documentSession = new EmbeddingSession(EmbeddingModelFolder.Load(documents));
        using var querySession = new EmbeddingSession(EmbeddingModelFolder.Load(queries));
        AssertClose(VectorPooling.Truncate(documentSession.Embed([text], EmbeddingPurpose.Document)[0].Vector, 32), documentVector);
        AssertClose(VectorPooling.Truncate(querySession.Embed([text], EmbeddingPurpose.Query)[0].Vector, 32), queryVector);

        // A pinned search embeds with the query model and searches the 32-dimension table: the lengths agree.
        var response = await new EmbeddingSearchClient(indexer.Cluster.Client, Options.Create(new EmbeddingSearchOptions())).SearchAsync(collection, text, version: "v2", cancellationToken: ct);
        Assert.Equal("v2", response.Version);
    }

    [Fact]
    public async Task Registrations_that_cannot_work_are_refused_naming_the_problem()
    {
        const string collection = "bad-registrations";
        await indexer.CreateCollectionAsync(collection);
        var coordinator = indexer.Cluster.Client.GetGrain<IVersionCoordinatorGrain>(collection);
        var notNormalised = CopyModel(indexer.SecondModelDirectory, manifest => manifest["normalize"] = false);
        var otherSpace = Directory.CreateTempSubdirectory("oe-query-model-").FullName;
        new StaticEmbeddingModelBuilder { Dimensions = 20, MaxTokens = 32, Seed = 2 }.Build(Enumerable.Range(0, 200).Select(IndexerCluster.Text), otherSpace, "other");

        async Task<string> RefusedAsync(ModelRegistration registration) =>
            (await Assert.ThrowsAsync<RolloutCommandException>(() => coordinator.RegisterModelAsync("v2", registration))).Message;

        Assert.Contains("binary quantization needs normalised vectors", await RefusedAsync(new(notNormalised) { Representation = VectorRepresentation.Binary }), StringComparison.Ordinal);
        Assert.Contains("was not trained for Matryoshka truncation", await RefusedAsync(new(indexer.SecondModelDirectory) { Dimensions = 16 }), StringComparison.Ordinal);
        Assert.Contains("the lengths it supports are 16, 32, 48", await RefusedAsync(
            new(CopyModel(indexer.SecondModelDirectory, m => m["matryoshkaDimensions"] = new JsonArray(16, 32))) { Dimensions = 24 }), StringComparison.Ordinal);
        Assert.Contains("produces 20 dimensions but the document model", await RefusedAsync(new(indexer.SecondModelDirectory) { QueryModelPath = otherSpace }), StringComparison.Ordinal);
        Assert.Contains("applies to binary quantization only", await RefusedAsync(new(indexer.SecondModelDirectory) { RerankOversample = 8 }), StringComparison.Ordinal);
        Assert.Contains("bits per dimension apply to binary quantization only", await RefusedAsync(new(indexer.SecondModelDirectory) { BinaryBits = 2 }), StringComparison.Ordinal);
        Assert.Contains("takes 1 or 2 bits per dimension (was 3)", await RefusedAsync(
            new(indexer.SecondModelDirectory) { Representation = VectorRepresentation.Binary, BinaryBits = 3 }), StringComparison.Ordinal);
        Assert.Contains("query model folder /nonexistent/query", await RefusedAsync(new(indexer.SecondModelDirectory) { QueryModelPath = "/nonexistent/query" }), StringComparison.Ordinal);

        // Nothing was registered by the refusals; a good registration then takes the name, and another layout under it is refused.
        Assert.DoesNotContain((await coordinator.GetStatusAsync()).Versions, v => v.Version == "v2");
        await coordinator.RegisterModelAsync("v2", new ModelRegistration(indexer.SecondModelDirectory) { Representation = VectorRepresentation.Float16 });
        Assert.Equal("halfvec(48)", (await coordinator.RegisterModelAsync("v2", new ModelRegistration(indexer.SecondModelDirectory) { Representation = VectorRepresentation.Float16 })).Representation);
        Assert.Contains("is already registered as", await RefusedAsync(new(indexer.SecondModelDirectory) { Representation = VectorRepresentation.Binary }), StringComparison.Ordinal);
    }

    private static string StableText(int j) => IndexerCluster.Text(4000 + j);

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.InRange(actual[i] - expected[i], -1e-5f, 1e-5f);
        }
    }

    private static string CopyModel(string source, Action<JsonObject> edit)
    {
        var target = Directory.CreateTempSubdirectory("oe-model-copy-").FullName;
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var path = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.Copy(file, path);
        }

        var manifestPath = Path.Combine(target, EmbeddingModelManifest.FileName);
        var manifest = JsonNode.Parse(File.ReadAllText(manifestPath))!.AsObject();
        edit(manifest);
        File.WriteAllText(manifestPath, manifest.ToJsonString());
        return target;
    }

    private async Task<object?> ScalarAsync(string sql)
    {
        await using var command = indexer.DataSource.CreateCommand(sql);
        return await command.ExecuteScalarAsync();
    }
}
