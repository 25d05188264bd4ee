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

    /// <summary>
    /// Waits until the stream log holds no unacknowledged change of <paramref name="collection"/> (at most two minutes)
    /// and vacuums what an ingest leaves to autovacuum, so a measurement that follows sees an idle machine.
    /// </summary>
    public static async Task SettleAsync(Npgsql.NpgsqlDataSource dataSource, string collection, IEnumerable<string> quotedTables, CancellationToken cancellationToken)
    {
        await WaitForCaughtUpAsync(dataSource, collection, cancellationToken);
        foreach (var table in quotedTables.Concat(["embeddings_documents", "embeddings_stream_log"]))
        {
            await using var vacuum = dataSource.CreateCommand($"VACUUM ANALYZE {table}");
            vacuum.CommandTimeout = 600;
            await vacuum.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>Waits until the stream log holds no change of <paramref name="collection"/> older than a second unacknowledged; false after two minutes.</summary>
    public static async Task<bool> WaitForCaughtUpAsync(Npgsql.NpgsqlDataSource dataSource, string collection, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(2))
        {
            await using var pending = dataSource.CreateCommand(
                "SELECT count(*) FROM embeddings_stream_log WHERE collection = @collection AND acked_at IS NULL AND enqueued_at < now() - interval '1 second'");
            pending.Parameters.AddWithValue("collection", collection);
            if ((long)(await pending.ExecuteScalarAsync(cancellationToken))! == 0)
            {
                return true;
            }

            await Task.Delay(250, cancellationToken);
        }

        return false;
    }
}
