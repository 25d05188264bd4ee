using Microsoft.Extensions.Options;
using Orleans.Embeddings.Client.Evaluation;
using Orleans.Embeddings.Client.Search;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Tests.Indexing;
using static Orleans.Embeddings.Tests.Rollouts.RolloutAssertions;

namespace Orleans.Embeddings.Tests.Evaluation;

/// <summary>
/// <see cref="RetrievalEvaluator.ExactReference"/> on a two-silo cluster: v1 (the fixture's 64-dimension static model,
/// without an HNSW index, so its searches are exact scans) is the reference; v2 is the fixture's second model (48
/// dimensions, another seed) over the same documents.
/// </summary>
public sealed class ExactReferenceTests(IndexerCluster indexer) : IClassFixture<IndexerCluster>
{
    private const string Collection = "eval-exact";
    private const int Documents = 300;
    private const int Queries = 30;

    [Fact]
    public async Task The_reference_recalls_its_own_exact_top_k_fully_another_model_less_and_a_restricted_evaluation_restricts_the_exact_searches_too()
    {
        var ct = TestContext.Current.CancellationToken;
        await indexer.CreateCollectionAsync(Collection);
        await using (var publisher = indexer.CreatePublisher())
        {
            await publisher.PublishManyAsync([.. Enumerable.Range(0, Documents).Select(i => new DocumentChange(Collection, $"d{i}", DocumentOperation.Upsert, 1, IndexerCluster.Text(i), "{}"))], ct);
        }

        await indexer.WaitForAsync($"SELECT count(*) FROM {Table(Collection, "v1")} WHERE $1", true, Documents, TimeSpan.FromSeconds(60));
        var coordinator = indexer.Cluster.Client.GetGrain<IVersionCoordinatorGrain>(Collection);
        await coordinator.RegisterModelAsync("v2", indexer.SecondModelDirectory);
        await coordinator.StartRolloutAsync("v2");
        await WaitForStatusAsync(coordinator, s => s.Version("v2").State == VersionState.Ready, TimeSpan.FromSeconds(60), "v2 Ready");

        var set = WriteSet();
        var client = new EmbeddingSearchClient(indexer.Cluster.Client, Options.Create(new EmbeddingSearchOptions()));
        var evaluator = new RetrievalEvaluator(client.SearchAsync, client.GetCoverageAsync) { ExactReference = true };

        var plain = await RetrievalEvaluator.For(client).EvaluateAsync(Collection, set, ["v1", "v2"], 10, cancellationToken: ct);
        Assert.Null(plain.ExactReference);
        Assert.All(plain.Versions, v => Assert.Null(v.ReferenceRecall));

        // v1's index search is an exact scan: it returns its exact top 10 for every query. v2 ranks with another model.
        var report = await evaluator.EvaluateAsync(Collection, set, ["v1", "v2"], 10, cancellationToken: ct);
        Assert.False(report.Restricted);
        Assert.Equal(Queries, report.Queries);
        Assert.Equal("v1", report.ExactReference);
        Assert.Equal(new Estimate(1, 1, 1), report.Versions[0].ReferenceRecall);
        var other = report.Versions[1].ReferenceRecall!.Value;
        Assert.True(other.Mean is > 0 and < 0.9 && other.High < 1 && other.Low <= other.Mean && other.Mean <= other.High, Describe(report));
        Assert.Equal(plain.Versions[1].Ndcg10, report.Versions[1].Ndcg10); // the exact searches change no other figure

        // v2 loses a third of its documents (tombstoned in its table, none of them an answer): every search, the exact
        // ones included, is restricted to the documents both hold. Were the exact searches not, v1's exact top 10 would
        // hold documents its restricted search cannot return.
        await using (var tombstone = indexer.DataSource.CreateCommand(
            $"UPDATE {Table(Collection, "v2")} SET deleted = true WHERE substr(id, 2)::int % 3 = 1 AND substr(id, 2)::int % 10 <> 0"))
        {
            Assert.Equal(Documents / 3 - Documents / 30, await tombstone.ExecuteNonQueryAsync(ct));
        }

        var restricted = await evaluator.EvaluateAsync(Collection, set, ["v1", "v2"], 10, cancellationToken: ct);
        Assert.True(restricted.Restricted, Describe(restricted));
        Assert.Equal(Queries, restricted.Queries);
        Assert.Equal(new Estimate(1, 1, 1), restricted.Versions[0].ReferenceRecall);
        Assert.True(restricted.Versions[1].ReferenceRecall!.Value.Mean < 1, Describe(restricted));
    }

    private static string Describe(EvaluationReport report) =>
        string.Join("; ", report.Versions.Select(v => $"{v.Version}: recall {v.Recall.Mean:F3} nDCG {v.Ndcg10.Mean:F3} reference recall {v.ReferenceRecall}"));

    // Query q: two document-specific words of document q * 10, answered by that document.
    private static EvaluationSet WriteSet()
    {
        var directory = Directory.CreateTempSubdirectory("oe-eval-exact-").FullName;
        try
        {
            var queries = Path.Combine(directory, "queries.tsv");
            var qrels = Path.Combine(directory, "qrels.tsv");
            File.WriteAllLines(queries, Enumerable.Range(0, Queries).Select(q => $"q{q}\t{Words(IndexerCluster.Text(q * 10))}"));
            File.WriteAllLines(qrels, Enumerable.Range(0, Queries).Select(q => $"q{q}\td{q * 10}\t1"));
            return EvaluationSet.Load(queries, qrels);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static string Words(string text)
    {
        var words = text.Split(' ');
        return $"note {words[1]} {words[6]}";
    }
}
