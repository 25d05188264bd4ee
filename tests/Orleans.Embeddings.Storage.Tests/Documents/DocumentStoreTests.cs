using Orleans.Embeddings.Storage.Documents;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Storage.Tests.Documents;

public sealed class DocumentStoreTests(MigratedPostgresDatabase database) : IClassFixture<MigratedPostgresDatabase>, IAsyncLifetime
{
    private readonly DocumentStore _store = new(database.DataSource);
    private readonly string _collection = $"docs-{Guid.NewGuid():N}"[..20];

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => await new CollectionCatalog(database.DataSource).EnsureCollectionAsync(_collection, Cancellation);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    [Fact]
    public async Task UpsertAsync_HigherSeqWinsAndEqualOrLowerSeqIsIgnored()
    {
        Assert.Equal(new DocumentWriteResult(true, true), await _store.UpsertAsync(_collection, "a", 5, "five", cancellationToken: Cancellation));
        Assert.Equal(new DocumentWriteResult(false, false), await _store.UpsertAsync(_collection, "a", 5, "five again", cancellationToken: Cancellation));
        Assert.Equal(new DocumentWriteResult(false, false), await _store.UpsertAsync(_collection, "a", 3, "three", cancellationToken: Cancellation));
        Assert.Equal(new DocumentWriteResult(true, true), await _store.UpsertAsync(_collection, "a", 7, "seven", cancellationToken: Cancellation));

        var stored = await _store.GetAsync(_collection, "a", Cancellation);
        Assert.NotNull(stored);
        Assert.Equal((7L, "seven", false), (stored.Seq, stored.Content, stored.Deleted));
        Assert.Equal(DocumentStore.HashContent("seven"), stored.ContentHash);
    }

    [Fact]
    public async Task DeleteAsync_LeavesATombstoneThatAnOlderWriteCannotUndo()
    {
        await _store.UpsertAsync(_collection, "b", 1, "one", cancellationToken: Cancellation);

        Assert.True((await _store.DeleteAsync(_collection, "b", 4, Cancellation)).Applied);
        Assert.False((await _store.UpsertAsync(_collection, "b", 3, "late three", cancellationToken: Cancellation)).Applied);

        var stored = await _store.GetAsync(_collection, "b", Cancellation);
        Assert.NotNull(stored);
        Assert.Equal((4L, true, (string?)null), (stored.Seq, stored.Deleted, stored.Content));
    }

    [Fact]
    public async Task DeleteAsync_UnknownDocument_StoresATombstoneForLaterArrivals()
    {
        Assert.True((await _store.DeleteAsync(_collection, "never-seen", 9, Cancellation)).Applied);

        Assert.False((await _store.UpsertAsync(_collection, "never-seen", 8, "older", cancellationToken: Cancellation)).Applied);
    }

    [Fact]
    public async Task UpsertAsync_OnlyMetadataChanged_ReportsContentUnchanged()
    {
        await _store.UpsertAsync(_collection, "c", 1, "same text", """{"tag":"a"}""", Cancellation);

        var result = await _store.UpsertAsync(_collection, "c", 2, "same text", """{"tag":"b"}""", Cancellation);

        Assert.Equal(new DocumentWriteResult(true, false), result);
        Assert.Equal("""{"tag": "b"}""", (await _store.GetAsync(_collection, "c", Cancellation))!.MetadataJson);
    }

    [Fact]
    public async Task UpsertAsync_AfterDelete_ReportsContentChanged()
    {
        await _store.UpsertAsync(_collection, "d", 1, "text", cancellationToken: Cancellation);
        await _store.DeleteAsync(_collection, "d", 2, Cancellation);

        Assert.Equal(new DocumentWriteResult(true, true), await _store.UpsertAsync(_collection, "d", 3, "text", cancellationToken: Cancellation));
    }

    [Theory]
    [InlineData("[1,2]")]
    [InlineData("{not json")]
    public async Task UpsertAsync_MetadataNotAJsonObject_ThrowsNamingTheDocument(string metadata)
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => _store.UpsertAsync(_collection, "bad-meta", 1, "x", metadata, Cancellation));

        Assert.Contains("'bad-meta'", error.Message, StringComparison.Ordinal);
        Assert.Null(await _store.GetAsync(_collection, "bad-meta", Cancellation));
    }

    [Fact]
    public async Task UpsertManyAsync_ConcurrentWritersInRandomSeqOrder_ConvergeToTheHighestSeq()
    {
        const int documents = 3000;
        const int seqsPerDocument = 5;
        var changes = Enumerable.Range(0, documents)
            .SelectMany(d => Enumerable.Range(1, seqsPerDocument).Select(seq =>
                seq == 4 && d % 7 == 0
                    ? new DocumentUpsert($"doc-{d}", seq, null)
                    : new DocumentUpsert($"doc-{d}", seq, $"doc {d} at {seq}", $$"""{"seq":{{seq}}}""")))
            .ToArray();
        new Random(42).Shuffle(changes);

        var writers = changes.Chunk(250).Select(batch => Task.Run(() => _store.UpsertManyAsync(_collection, batch, Cancellation), Cancellation));
        var results = await Task.WhenAll(writers);

        Assert.Equal(changes.Length, results.Sum(r => r.Applied + r.Ignored));
        for (var d = 0; d < documents; d += 97)
        {
            var stored = await _store.GetAsync(_collection, $"doc-{d}", Cancellation);
            Assert.NotNull(stored);
            Assert.Equal((5L, $"doc {d} at 5", false), (stored.Seq, stored.Content, stored.Deleted));
        }

        await using var command = database.DataSource.CreateCommand(
            "SELECT count(*) FROM embeddings_documents WHERE collection = @c AND (seq <> 5 OR deleted OR content <> 'doc ' || substr(id, 5) || ' at 5')");
        command.Parameters.AddWithValue("c", _collection);
        Assert.Equal(0L, await command.ExecuteScalarAsync(Cancellation));
    }

    [Fact]
    public async Task ReadShardPageAsync_WalksEveryDocumentOfEachShardOnceInIdOrder()
    {
        var ids = Enumerable.Range(0, 600).Select(i => $"page-{i:D4}").ToList();
        await _store.UpsertManyAsync(_collection, [.. ids.Select(id => new DocumentUpsert(id, 1, id))], Cancellation);

        var seen = new List<string>();
        for (var shard = 0; shard < DocumentStore.ShardCount; shard++)
        {
            string? cursor = null;
            while (true)
            {
                var page = await _store.ReadShardPageAsync(_collection, shard, cursor, 2, Cancellation);
                if (page.Count == 0)
                {
                    break;
                }

                Assert.All(page, d => Assert.Equal(shard, d.Shard));
                Assert.Equal(page.Select(d => d.Id).Order(StringComparer.Ordinal), page.Select(d => d.Id));
                seen.AddRange(page.Select(d => d.Id));
                cursor = page[^1].Id;
            }
        }

        Assert.Equal(ids.Order(StringComparer.Ordinal), seen.Where(id => id.StartsWith("page-", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.True(seen.Select(id => id).Distinct().Count() == seen.Count);
    }
}
