using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Embeddings.Client.Publishing;
using Orleans.Embeddings.Collections;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Benchmarks;

/// <summary>Creates a collection on a benchmark silo and ingests the corpus through the pipeline (the PostgreSQL log).</summary>
internal static class BenchmarkIngest
{
    /// <summary>Creates (<paramref name="collection"/>, <paramref name="version"/>) with <paramref name="model"/>, publishes every package, and waits until all are indexed.</summary>
    public static async Task<VersionTable> IngestAsync(
        IHost silo, BenchmarkDatabase database, string collection, string version, string model, IReadOnlyList<DebianCorpus.Package> corpus,
        Func<DebianCorpus.Package, string> metadata, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var table = await silo.Services.GetRequiredService<CollectionSetup>().CreateAsync(collection, version, model, cancellationToken: cancellationToken);
        await using (var publisher = new PostgresLogPublisher(database.DataSource, "documents"))
        {
            foreach (var chunk in corpus.Chunk(5_000))
            {
                await publisher.PublishManyAsync([.. chunk.Select(p => new DocumentChange(collection, p.Id, DocumentOperation.Upsert, null, p.Content, metadata(p)))], cancellationToken);
            }
        }

        while (true)
        {
            await using var count = database.DataSource.CreateCommand($"SELECT count(*) FROM {table.QuotedTable}");
            if ((long)(await count.ExecuteScalarAsync(cancellationToken))! >= corpus.Count)
            {
                break;
            }

            await Task.Delay(500, cancellationToken);
        }

        Console.WriteLine($"ingested {corpus.Count:N0} documents into {collection}/{version} through the pipeline in {clock.Elapsed.TotalSeconds:F0} s");
        return table;
    }
}
