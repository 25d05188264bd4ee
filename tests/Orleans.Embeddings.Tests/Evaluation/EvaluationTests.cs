using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Client.Evaluation;
using Orleans.Embeddings.Client.Search;
using Orleans.Embeddings.Collections;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Tests.Indexing;
using static Orleans.Embeddings.Tests.Rollouts.RolloutAssertions;

namespace Orleans.Embeddings.Tests.Evaluation;

/// <summary>
/// Offline evaluation through the SDK on a two-silo cluster: v1 = a 16-dimension static model without IDF weighting,
/// v2 = 64 dimensions with IDF weighting, both built from the documents. Each query is a document's rarest words.
/// </summary>
public sealed class EvaluationTests(IndexerCluster indexer) : IClassFixture<IndexerCluster>
{
    private const string Collection = "eval";
    private const int Documents = 6000;
    private const int Queries = 300;

    [Fact]
    public async Task A_loading_version_is_evaluated_on_the_shared_documents_and_a_better_model_wins_significantly()
    {
        var ct = TestContext.Current.CancellationToken;
        var models = Directory.CreateTempSubdirectory("oe-eval-models-").FullName;
        try
        {
            var texts = Enumerable.Range(0, IndexerCluster.CorpusSize).Select(IndexerCluster.Text).ToList();
            var v1 = new StaticEmbeddingModelBuilder { Dimensions = 16, IdfWeighting = false, MaxTokens = 32, Seed = 3, MaxWords = 40_000 }.Build(texts, Path.Combine(models, "v1"), "eval-v1");
            var v2 = new StaticEmbeddingModelBuilder { Dimensions = 64, IdfWeighting = true, MaxTokens = 32, Seed = 3, MaxWords = 40_000 }.Build(texts, Path.Combine(models, "v2"), "eval-v2");
            await indexer.Cluster.Silos[0].ServiceProvider.GetRequiredService<CollectionSetup>().CreateAsync(Collection, "v1", v1.Directory, cancellationToken: ct);
            await using (var publisher = indexer.CreatePublisher())
            {
                await publisher.PublishManyAsync([.. Enumerable.Range(0, Documents).Select(i => new DocumentChange(Collection, $"d{i}", DocumentOperation.Upsert, 1, IndexerCluster.Text(i), "{}"))], ct);
            }

            await indexer.WaitForAsync($"SELECT count(*) FROM {Table(Collection, "v1")} WHERE $1", true, Documents, TimeSpan.FromSeconds(120));
            var set = WriteSet(models);
            var evaluator = RetrievalEvaluator.For(new EmbeddingSearchClient(indexer.Cluster.Client, Options.Create(new EmbeddingSearchOptions())));

            // While v2 loads: both versions are searched among the documents both hold.
            var coordinator = indexer.Cluster.Client.GetGrain<IVersionCoordinatorGrain>(Collection);
            await coordinator.RegisterModelAsync("v2", v2.Directory);
            await coordinator.StartRolloutAsync("v2");
            await indexer.WaitForAsync($"SELECT count(*) FROM {Table(Collection, "v2")} WHERE $1", true, 300, TimeSpan.FromSeconds(60));
            var loading = await evaluator.EvaluateAsync(Collection, set, ["v1", "v2"], 10, cancellationToken: ct);
            Assert.True(loading.Restricted, "the evaluation of a loading version is restricted");
            Assert.True(loading.Versions[1].LiveDocuments < loading.Versions[0].LiveDocuments);
            Assert.True(loading.Queries < Queries && loading.Queries > 0, $"{loading.Queries} queries");
            Assert.Equal(Queries - loading.Queries, loading.SkippedQueries);
            Assert.Equal(loading.Queries, loading.JudgedDocumentsPresent); // one answer per query
            Assert.True(loading.Versions[1].Recall.Mean > 0.9, Describe(loading)); // v2 finds its answers among what it holds

            // Once Ready, on everything: v2 is the better model, and the paired test says so.
            await WaitForStatusAsync(coordinator, s => s.Version("v2").State == VersionState.Ready, TimeSpan.FromSeconds(120), "v2 Ready");
            var ready = await evaluator.EvaluateAsync(Collection, set, ["v1", "v2"], 10, cancellationToken: ct);
            Assert.False(ready.Restricted);
            Assert.Equal(Queries, ready.Queries);
            Assert.True(ready.Versions[1].Ndcg10.Mean > ready.Versions[0].Ndcg10.Mean, Describe(ready));
            Assert.True(ready.Comparisons[0].PValue < 0.05, Describe(ready));
            Assert.True(ready.Comparisons[0].NdcgDifference.Low > 0, Describe(ready));
        }
        finally
        {
            Directory.Delete(models, recursive: true);
        }
    }

    private static string Describe(EvaluationReport report) =>
        string.Join("; ", report.Versions.Select(v => $"{v.Version}: recall {v.Recall.Mean:F3} nDCG {v.Ndcg10.Mean:F3} MRR {v.Mrr10.Mean:F3}"))
        + string.Join("", report.Comparisons.Select(c => $"; p = {c.PValue:F4}, difference {c.NdcgDifference}"));

    // Query i: the rarest words of document i * 20 (its two document-specific words), answered by that document.
    private static EvaluationSet WriteSet(string directory)
    {
        var queries = Path.Combine(directory, "queries.tsv");
        var qrels = Path.Combine(directory, "qrels.tsv");
        File.WriteAllLines(queries, Enumerable.Range(0, Queries).Select(q => $"q{q}\t{Words(IndexerCluster.Text(q * 20))}"));
        File.WriteAllLines(qrels, Enumerable.Range(0, Queries).Select(q => $"q{q}\td{q * 20}\t1"));
        return EvaluationSet.Load(queries, qrels);
    }

    private static string Words(string text)
    {
        var words = text.Split(' ');
        return $"note {words[1]} {words[6]}";
    }
}
