using Orleans.Embeddings.Client.Evaluation;

namespace Orleans.Embeddings.Tests.Evaluation;

public sealed class EvaluationMathTests
{
    private static readonly Dictionary<string, int> OneRelevant = new() { ["b"] = 1 };

    [Fact]
    public void Metrics_match_hand_computed_values()
    {
        string[] ranked = ["a", "b", "c"];
        Assert.Equal(1.0, RankingMetrics.Recall(ranked, OneRelevant, 2));
        Assert.Equal(0.0, RankingMetrics.Recall(ranked, OneRelevant, 1));
        Assert.Equal(0.5, RankingMetrics.ReciprocalRank(ranked, OneRelevant, 10));
        Assert.Equal(1 / Math.Log2(3), RankingMetrics.Ndcg(ranked, OneRelevant, 10), 12);

        // Graded: the ideal order puts the relevance-2 document first.
        var graded = new Dictionary<string, int> { ["a"] = 1, ["c"] = 2 };
        var dcg = 1.0 + (3 / Math.Log2(4));
        var ideal = 3.0 + (1 / Math.Log2(3));
        Assert.Equal(dcg / ideal, RankingMetrics.Ndcg(ranked, graded, 10), 12);
        Assert.Equal(0.5, RankingMetrics.Recall(ranked, graded, 1));
        Assert.Equal(0.0, RankingMetrics.Ndcg([], graded, 10));
    }

    [Fact]
    public void The_bootstrap_interval_holds_the_mean_and_narrows_with_more_queries()
    {
        var random = new Random(1);
        var few = Enumerable.Range(0, 30).Select(_ => random.NextDouble()).ToList();
        var many = Enumerable.Range(0, 3000).Select(_ => random.NextDouble()).ToList();
        var a = PairedStatistics.Bootstrap(few);
        var b = PairedStatistics.Bootstrap(many);
        Assert.InRange(a.Mean, a.Low, a.High);
        Assert.InRange(b.Mean, b.Low, b.High);
        Assert.True(b.High - b.Low < (a.High - a.Low) / 4, $"{b.High - b.Low} vs {a.High - a.Low}");
        Assert.InRange(b.Mean, 0.48, 0.52);
    }

    [Fact]
    public void The_paired_test_separates_a_consistent_difference_from_noise()
    {
        var random = new Random(2);
        var baseline = Enumerable.Range(0, 200).Select(_ => random.NextDouble()).ToArray();
        var better = baseline.Select(x => x + 0.05 + ((random.NextDouble() - 0.5) * 0.1)).ToArray();
        var noise = baseline.Select(x => x + ((random.NextDouble() - 0.5) * 0.1)).ToArray();
        Assert.True(PairedStatistics.RandomizationTest(better, baseline) < 0.001);
        Assert.True(PairedStatistics.RandomizationTest(noise, baseline) > 0.05);
        Assert.Equal(1.0, PairedStatistics.RandomizationTest(baseline, baseline));
        Assert.Throws<ArgumentException>(() => PairedStatistics.RandomizationTest(baseline, better[..10]));
    }

    [Fact]
    public void An_evaluation_set_reads_both_formats_and_names_the_bad_line()
    {
        var directory = Directory.CreateTempSubdirectory("oe-eval-set-").FullName;
        try
        {
            var queries = Path.Combine(directory, "q.tsv");
            var qrels = Path.Combine(directory, "qrels.tsv");
            File.WriteAllLines(queries, ["# comment", "q1\tweb server", "q2\tdatabase engine", "q3\tno answer"]);
            File.WriteAllLines(qrels, ["q1\tapache2\t1", "q1 0 nginx 2", "q2\tpostgresql\t1", "q3\tnothing\t0"]);
            var set = EvaluationSet.Load(queries, qrels);
            Assert.Equal(3, set.Queries.Count);
            Assert.Equal(2, set.Judgements.Count); // q3 has no relevant document
            Assert.Equal(2, set.Judgements["q1"]["nginx"]);

            File.WriteAllLines(qrels, ["q1\tapache2\t1", "q9\tx\t1"]);
            Assert.Contains("qrels.tsv:2: query id 'q9' is not in", Assert.Throws<FormatException>(() => EvaluationSet.Load(queries, qrels)).Message, StringComparison.Ordinal);
            File.WriteAllLines(qrels, ["q1\tapache2\tyes"]);
            Assert.Contains("qrels.tsv:1: relevance 'yes'", Assert.Throws<FormatException>(() => EvaluationSet.Load(queries, qrels)).Message, StringComparison.Ordinal);
            File.WriteAllLines(queries, ["q1 web server"]);
            Assert.Contains("q.tsv:1: expected 'query-id<TAB>text'", Assert.Throws<FormatException>(() => EvaluationSet.Load(queries, qrels)).Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void The_title_set_leaves_out_shared_and_short_titles()
    {
        var directory = Directory.CreateTempSubdirectory("oe-title-set-").FullName;
        try
        {
            (string, string)[] documents = [("a", "fast web server"), ("b", "fast web server"), ("c", "tiny"), ("d", "a database engine"), ("e", "an image viewer")];
            Assert.Equal(2, TitleEvaluationSet.Write(documents, directory, every: 1));
            var set = EvaluationSet.Load(Path.Combine(directory, "queries.tsv"), Path.Combine(directory, "qrels.tsv"));
            Assert.Equal(["a database engine", "an image viewer"], set.Queries.Values.Order());
            Assert.Equal(["d", "e"], set.Judgements.Values.SelectMany(j => j.Keys).Order());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
