using Orleans.Embeddings.Storage.Documents;
using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Storage.Tests.Vectors;

public sealed class EmbeddingTableWriterTests(MigratedPostgresDatabase database) : IClassFixture<MigratedPostgresDatabase>
{
    private const int Dimensions = 8;
    private readonly EmbeddingTableWriter _writer = new(database.DataSource);

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    [Fact]
    public async Task WriteAsync_ConcurrentWritersInRandomSeqOrder_ConvergeToTheHighestSeqForEveryId()
    {
        var table = await RegisterAsync(VectorElementType.Vector);
        const int documents = 4000;
        var random = new Random(7);
        var rows = Enumerable.Range(0, documents)
            .SelectMany(d => Enumerable.Range(1, 4).Select(seq => EmbeddingRow.Upsert($"doc-{d}", seq, Encode(seq), $$"""{"seq":{{seq}}}""")))
            .ToArray();
        random.Shuffle(rows);

        var results = await Task.WhenAll(rows.Chunk(500).Select(batch => Task.Run(() => _writer.WriteAsync(table, batch, Cancellation), Cancellation)));

        Assert.Equal(rows.Length, results.Sum(r => r.Applied + r.Ignored));
        Assert.Equal(
            [(4L, (long)documents)],
            await QueryAsync(table, "SELECT seq, count(*) FROM {0} GROUP BY seq"));
        Assert.Equal(
            [(0L, 0L)],
            await QueryAsync(table, "SELECT 0::bigint, count(*) FROM {0} WHERE (embedding::real[])[1] <> 4 OR (metadata->>'seq')::int <> 4"));
    }

    [Fact]
    public async Task WriteAsync_TombstoneAtSeqN_IsNotUndoneByALaterArrivingOlderWrite()
    {
        var table = await RegisterAsync(VectorElementType.Vector);
        await _writer.WriteAsync(table, [EmbeddingRow.Upsert("x", 1, Encode(1))], Cancellation);
        await _writer.WriteAsync(table, [EmbeddingRow.Tombstone("x", 5)], Cancellation);

        var late = await _writer.WriteAsync(table, [EmbeddingRow.Upsert("x", 3, Encode(3))], Cancellation);

        Assert.Equal(new BatchWriteResult(0, 1), late);
        Assert.Equal([(5L, 1L)], await QueryAsync(table, "SELECT seq, count(*) FROM {0} WHERE id = 'x' AND deleted AND embedding IS NULL GROUP BY seq"));
    }

    [Fact]
    public async Task WriteAsync_DuplicatesAndStaleRowsInABatch_AreCountedAsIgnored()
    {
        var table = await RegisterAsync(VectorElementType.Vector);
        await _writer.WriteAsync(table, [EmbeddingRow.Upsert("a", 10, Encode(10))], Cancellation);

        var result = await _writer.WriteAsync(
            table,
            [EmbeddingRow.Upsert("a", 9, Encode(9)), EmbeddingRow.Upsert("b", 1, Encode(1)), EmbeddingRow.Upsert("b", 2, Encode(2)), EmbeddingRow.Upsert("a", 10, Encode(10))],
            Cancellation);

        Assert.Equal(new BatchWriteResult(1, 3), result);
        Assert.Equal([(2L, 1L)], await QueryAsync(table, "SELECT seq, count(*) FROM {0} WHERE id = 'b' GROUP BY seq"));
    }

    [Fact]
    public async Task WriteAsync_HalfVecTable_StoresAndGuardsLikeVector()
    {
        var table = await RegisterAsync(VectorElementType.HalfVec);

        var first = await _writer.WriteAsync(table, [EmbeddingRow.Upsert("h", 2, Encode(2)), EmbeddingRow.Tombstone("g", 1)], Cancellation);
        var stale = await _writer.WriteAsync(table, [EmbeddingRow.Upsert("h", 1, Encode(1))], Cancellation);

        Assert.Equal(new BatchWriteResult(2, 0), first);
        Assert.Equal(new BatchWriteResult(0, 1), stale);
        Assert.Equal([(2L, 1L)], await QueryAsync(table, "SELECT seq, count(*) FROM {0} WHERE id = 'h' AND (embedding::real[])[1] = 2 GROUP BY seq"));
    }

    [Fact]
    public async Task WriteAsync_VectorOfTheWrongLength_ThrowsNamingTheDocumentAndWritesNothing()
    {
        var table = await RegisterAsync(VectorElementType.Vector);

        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            _writer.WriteAsync(table, [EmbeddingRow.Upsert("ok", 1, Encode(1)), EmbeddingRow.Upsert("short", 1, new float[3])], Cancellation));

        Assert.Contains("'short' has 3 dimensions", error.Message, StringComparison.Ordinal);
        Assert.Equal([(0L, 0L)], await QueryAsync(table, "SELECT 0::bigint, count(*) FROM {0}"));
    }

    [Fact]
    public async Task WriteAsync_NonFiniteValue_IsRejected()
    {
        var table = await RegisterAsync(VectorElementType.Vector);
        var vector = Encode(1);
        vector[3] = float.NaN;

        await Assert.ThrowsAsync<ArgumentException>(() => _writer.WriteAsync(table, [EmbeddingRow.Upsert("nan", 1, vector)], Cancellation));
    }

    [Fact]
    public async Task UpdateMetadataAsync_LiveRow_MovesSeqAndMetadataWithoutTouchingTheVector()
    {
        var table = await RegisterAsync(VectorElementType.Vector);
        await _writer.WriteAsync(table, [EmbeddingRow.Upsert("m", 1, Encode(1), """{"tag":"a"}""")], Cancellation);

        Assert.True(await _writer.UpdateMetadataAsync(table, "m", 2, """{"tag":"b"}""", Cancellation));
        Assert.False(await _writer.UpdateMetadataAsync(table, "m", 2, """{"tag":"c"}""", Cancellation));

        Assert.Equal([(2L, 1L)], await QueryAsync(table, "SELECT seq, count(*) FROM {0} WHERE metadata->>'tag' = 'b' AND (embedding::real[])[1] = 1 GROUP BY seq"));
    }

    [Fact]
    public async Task PurgeTombstonesAsync_RemovesOnlyTombstonesOlderThanTheBound()
    {
        var table = await RegisterAsync(VectorElementType.Vector);
        await _writer.WriteAsync(table, [EmbeddingRow.Tombstone("old", 1), EmbeddingRow.Upsert("live", 1, Encode(1))], Cancellation);

        Assert.Equal(0, await _writer.PurgeTombstonesAsync(table, DateTimeOffset.UtcNow.AddHours(-1), Cancellation));
        Assert.Equal(1, await _writer.PurgeTombstonesAsync(table, DateTimeOffset.UtcNow.AddMinutes(1), Cancellation));
        Assert.Equal([(0L, 1L)], await QueryAsync(table, "SELECT 0::bigint, count(*) FROM {0}"));
    }

    private async Task<VersionTable> RegisterAsync(VectorElementType type) =>
        await new CollectionCatalog(database.DataSource).RegisterVersionAsync(
            $"c{Guid.NewGuid():N}"[..12], "v1", Dimensions, type, DistanceMetric.Cosine, Cancellation);

    /// <summary>A vector whose first component tells which seq wrote it.</summary>
    private static float[] Encode(int seq)
    {
        var vector = new float[Dimensions];
        vector[0] = seq;
        vector[1] = 1;
        return vector;
    }

    private async Task<List<(long, long)>> QueryAsync(VersionTable table, string sqlFormat)
    {
        await using var command = database.DataSource.CreateCommand(string.Format(System.Globalization.CultureInfo.InvariantCulture, sqlFormat, table.QuotedTable));
        await using var reader = await command.ExecuteReaderAsync(Cancellation);
        var rows = new List<(long, long)>();
        while (await reader.ReadAsync(Cancellation))
        {
            rows.Add((Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture), reader.GetInt64(1)));
        }

        return rows;
    }
}
