using Npgsql;
using Orleans.Embeddings.Storage.Search;
using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Storage.Tests.Search;

public sealed class CompactRepresentationTests(MigratedPostgresDatabase database) : IClassFixture<MigratedPostgresDatabase>
{
    private const int Dimensions = 64;
    private const int Rows = 3000;
    private readonly VectorSearch _search = new(database.DataSource);
    private readonly EmbeddingTableWriter _writer = new(database.DataSource);
    private readonly CollectionCatalog _catalog = new(database.DataSource);

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public static TheoryData<string> Representations => ["vector", "halfvec", "binary", "binary2"];

    [Theory]
    [MemberData(nameof(Representations))]
    public async Task SearchAsync_EachRepresentationIndexed_FindsTheExactNeighboursAndSkipsTombstones(string representation)
    {
        var layout = representation switch
        {
            "halfvec" => new VersionLayout(Dimensions, VectorElementType.HalfVec, DistanceMetric.Cosine),
            "binary" => new VersionLayout(Dimensions, VectorElementType.HalfVec, DistanceMetric.Cosine) { Quantization = VectorQuantization.Binary, RerankOversample = 10 },
            "binary2" => new VersionLayout(Dimensions, VectorElementType.HalfVec, DistanceMetric.Cosine) { Quantization = VectorQuantization.Binary, RerankOversample = 10, BinaryBits = 2 },
            _ => new VersionLayout(Dimensions, VectorElementType.Vector, DistanceMetric.Cosine),
        };
        var (table, vectors) = await LoadAsync(layout, seed: 3);
        await _writer.WriteAsync(table, [EmbeddingRow.Tombstone("doc-0007", 5)], Cancellation);
        vectors.Remove("doc-0007");
        await new HnswIndexBuilder(database.DataSource).BuildAsync(table, cancellationToken: Cancellation);
        Assert.True(await new HnswIndexBuilder(database.DataSource).HasIndexAsync(table, Cancellation));
        Assert.Equal(representation.StartsWith("binary", StringComparison.Ordinal) ? "bit_hamming_ops" : $"{representation}_cosine_ops", await ReadIndexOperatorClassAsync(table));
        table = (await _catalog.GetVersionAsync(table.Collection, table.Version, Cancellation))!;
        if (representation.StartsWith("binary", StringComparison.Ordinal))
        {
            // The signs are taken around the table's mean, recorded with the index and used by every search after it.
            var mean = new float[Dimensions];
            foreach (var vector in vectors.Values)
            {
                for (var d = 0; d < Dimensions; d++)
                {
                    mean[d] += vector[d] / vectors.Count;
                }
            }

            Assert.NotNull(table.QuantizationCenter);
            Assert.All(Enumerable.Range(0, Dimensions), d => Assert.InRange(table.QuantizationCenter![d] - mean[d], -2e-3f, 2e-3f));
            Assert.Equal(table.QuantizationCenter, (await _catalog.EnsureQuantizationCenterAsync(table, Cancellation)).QuantizationCenter);
            Assert.Equal(representation == "binary2", table.QuantizationSpread is not null);
            if (table.QuantizationSpread is { } spread)
            {
                // 0.6745 σ of each dimension around its mean.
                var sigma = Math.Sqrt(vectors.Values.Average(v => Math.Pow(v[0] - mean[0], 2)));
                Assert.InRange(spread[0], 0.6745 * sigma * 0.99, 0.6745 * sigma * 1.01);
            }

            var query = $"'[{string.Join(',', vectors.First().Value.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))}]'::halfvec";
            await using var explain = database.DataSource.CreateCommand(
                $"EXPLAIN SELECT id FROM {table.QuotedTable} t ORDER BY {table.IndexExpression("t.embedding")} <~> {table.IndexExpression(query)} LIMIT 40");
            await using var plan = await explain.ExecuteReaderAsync(Cancellation);
            var lines = new List<string>();
            while (await plan.ReadAsync(Cancellation))
            {
                lines.Add(plan.GetString(0));
            }

            Assert.Contains(lines, l => l.Contains("Index Scan", StringComparison.Ordinal));

        }

        var random = new Random(17);
        double found = 0;
        const int Queries = 40;
        for (var q = 0; q < Queries; q++)
        {
            var query = Perturb(random, vectors[$"doc-{random.Next(Rows):D4}"] is var v ? v : throw new InvalidOperationException(), 0.3f);
            var exact = vectors.OrderByDescending(x => RandomVectors.Dot(query, x.Value)).Take(10).Select(x => x.Key).ToHashSet();

            var hits = await _search.SearchAsync(table, new VectorSearchRequest(query, 10), Cancellation);
            var exactHits = await _search.SearchAsync(table, new VectorSearchRequest(query, 10) { Exact = true }, Cancellation);

            Assert.Equal(10, hits.Count);
            Assert.DoesNotContain(hits, h => h.Id == "doc-0007");
            Assert.All(hits, h => Assert.Equal(table.Version, h.Version));
            Assert.Equal(hits.Select(h => h.Score).OrderDescending(), hits.Select(h => h.Score));
            // Scores are exact cosines on the stored vector (half precision: about three decimals).
            Assert.All(hits, h => Assert.InRange(h.Score - RandomVectors.Dot(query, vectors[h.Id]), -2e-3, 2e-3));
            Assert.Equal(exact.Order(), exactHits.Select(h => h.Id).Order());
            found += hits.Count(h => exact.Contains(h.Id));
        }

        Assert.True(found / (Queries * 10) >= 0.9, $"{representation}: recall@10 {found / (Queries * 10):F3} against the exact top 10");

        // A binary version's quantizer function (holding its centre) goes with the version.
        await _catalog.DropVersionAsync(table.Collection, table.Version, Cancellation);
        await using var function = database.DataSource.CreateCommand("SELECT count(*) FROM pg_proc WHERE proname = @name");
        function.Parameters.AddWithValue("name", Orleans.Embeddings.Storage.Naming.StorageNames.QuantizerFunctionName(table.TableName));
        Assert.Equal(0L, (long)(await function.ExecuteScalarAsync(Cancellation))!);
    }

    [Fact]
    public async Task SearchAsync_BinaryWithFilter_ReranksOnlyMatchingRows()
    {
        var layout = new VersionLayout(Dimensions, VectorElementType.Vector, DistanceMetric.Cosine) { Quantization = VectorQuantization.Binary };
        var (table, _) = await LoadAsync(layout, seed: 4, metadata: i => i % 50 == 0 ? """{"kind":"rare"}""" : """{"kind":"common"}""");
        await new HnswIndexBuilder(database.DataSource).BuildAsync(table, cancellationToken: Cancellation);

        var hits = await _search.SearchAsync(
            table, new VectorSearchRequest(RandomVectors.Unit(new Random(8), Dimensions), 20) { Filters = [MetadataFilter.Equal("kind", "rare")] }, Cancellation);

        Assert.Equal(20, hits.Count);
        Assert.All(hits, h => Assert.Contains("rare", h.MetadataJson, StringComparison.Ordinal));
    }

    [Fact]
    public async Task RegisterVersionAsync_SameNameOtherLayout_FailsNamingBoth()
    {
        var collection = $"c{Guid.NewGuid():N}"[..12];
        var binary = new VersionLayout(Dimensions, VectorElementType.HalfVec, DistanceMetric.Cosine) { Quantization = VectorQuantization.Binary };
        var table = await _catalog.RegisterVersionAsync(collection, "v1", binary, Cancellation);
        var again = await _catalog.RegisterVersionAsync(collection, "v1", binary, Cancellation);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => _catalog.RegisterVersionAsync(
            collection, "v1", new VersionLayout(Dimensions, VectorElementType.Vector, DistanceMetric.Cosine), Cancellation));

        Assert.Equal(table, again);
        Assert.Equal(VectorQuantization.Binary, (await _catalog.GetVersionAsync(collection, "v1", Cancellation))!.Quantization);
        Assert.Contains("binary(64)+halfvec rerank x20", error.Message, StringComparison.Ordinal);
        Assert.Contains("vector(64)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_OversampleOutOfRange_NamesTheSetting()
    {
        var error = Assert.Throws<ArgumentException>(() => new VersionLayout(8, VectorElementType.Vector, DistanceMetric.Cosine) { RerankOversample = 0 }.Validate());

        Assert.Contains("rerank oversample", error.Message, StringComparison.Ordinal);
    }

    private static float[] Perturb(Random random, float[] vector, float noise)
    {
        var result = RandomVectors.Unit(random, vector.Length);
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = vector[i] + (noise * result[i]);
        }

        var norm = MathF.Sqrt(result.Sum(x => x * x));
        return [.. result.Select(x => x / norm)];
    }

    private async Task<string> ReadIndexOperatorClassAsync(VersionTable table)
    {
        await using var command = database.DataSource.CreateCommand(
            """
            SELECT o.opcname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_opclass o ON o.oid = i.indclass[0]
             WHERE c.relname = @table AND o.opcname <> 'text_ops'
            """);
        command.Parameters.AddWithValue("table", table.TableName);
        return (string)(await command.ExecuteScalarAsync(Cancellation))!;
    }

    private async Task<(VersionTable Table, Dictionary<string, float[]> Vectors)> LoadAsync(VersionLayout layout, int seed, Func<int, string>? metadata = null)
    {
        var collection = $"c{Guid.NewGuid():N}"[..12];
        var table = await _catalog.RegisterVersionAsync(collection, "v1", layout, Cancellation);
        var random = new Random(seed);

        // Clustered data, as embeddings are: 60 topics, each row near one of them.
        var centres = Enumerable.Range(0, 60).Select(_ => RandomVectors.Unit(random, Dimensions)).ToArray();
        var vectors = Enumerable.Range(0, Rows).ToDictionary(i => $"doc-{i:D4}", i => Perturb(random, centres[i % centres.Length], 0.8f));
        await _writer.WriteAsync(table, [.. vectors.Select((v, i) => EmbeddingRow.Upsert(v.Key, 1, v.Value, metadata?.Invoke(i) ?? "{}"))], Cancellation);
        await using (var analyze = database.DataSource.CreateCommand($"ANALYZE {table.QuotedTable}"))
        {
            await analyze.ExecuteNonQueryAsync(Cancellation);
        }

        return (table, vectors);
    }
}
