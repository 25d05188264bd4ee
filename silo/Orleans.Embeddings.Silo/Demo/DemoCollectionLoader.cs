using System.Diagnostics;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Embeddings.Client.Publishing;
using Orleans.Embeddings.Collections;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Storage.Routing;
using Orleans.Embeddings.Streaming.Events;
using Orleans.Embeddings.Streaming.Hosting;
using Orleans.Embeddings.Streaming.Kafka;

namespace Orleans.Embeddings.Silo.Demo;

/// <summary>
/// On an empty database, creates the demo collection with a static model built from the Debian corpus and ingests
/// the corpus through the document-change stream, logging the progress of publishing and of indexing; then rolls
/// the collection out to a trained model (<see cref="DemoModelRollout"/>).
/// </summary>
internal sealed partial class DemoCollectionLoader(
    IOptions<DemoOptions> options, IOptions<DocumentStreamsOptions> streams, IOptionsMonitor<KafkaStreamOptions> kafka, NpgsqlDataSource dataSource, RoutingStore routing,
    CollectionSetup setup, VersionIndexes indexes, DemoModelRollout trainedRollout, ILogger<DemoCollectionLoader> logger) : BackgroundService
{
    private const int PublishBatch = 2000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var demo = options.Value;
        if (!demo.Enabled)
        {
            return;
        }

        try
        {
            if (await LoadAsync(demo, stoppingToken))
            {
                await trainedRollout.RunAsync(demo, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogFailed(logger, ex, demo.Collection);
        }
    }

    /// <summary>Creates and ingests the collection unless it exists; false when there is none (no corpus).</summary>
    private async Task<bool> LoadAsync(DemoOptions demo, CancellationToken cancellationToken)
    {
        if (await routing.GetAsync(demo.Collection, cancellationToken) is not null)
        {
            LogPresent(logger, demo.Collection);
            return true;
        }

        if (!File.Exists(demo.Corpus))
        {
            LogNoCorpus(logger, demo.Corpus);
            return false;
        }

        var clock = Stopwatch.StartNew();
        if (!File.Exists(Path.Combine(demo.ModelDirectory, "model.onnx")))
        {
            LogBuildingModel(logger, demo.Dimensions, demo.Corpus);
            var parser = new DocumentChangeParser();
            var texts = File.ReadLines(demo.Corpus)
                .Select(line => parser.Parse(System.Text.Encoding.UTF8.GetBytes(line)).Change?.Content)
                .OfType<string>();
            new StaticEmbeddingModelBuilder { Dimensions = demo.Dimensions }.Build(texts, demo.ModelDirectory, $"{demo.Collection}-{demo.Version}");
        }

        var table = await setup.CreateAsync(demo.Collection, demo.Version, demo.ModelDirectory, cancellationToken: cancellationToken);
        LogCreated(logger, demo.Collection, demo.Version, table.Dimensions, clock.Elapsed.TotalSeconds);

        var published = await PublishAsync(demo, cancellationToken);
        await FollowIndexingAsync(table.QuotedTable, published, cancellationToken);

        // The first version is ingested without an ANN index (far faster); searches need one.
        await indexes.BuildAsync(demo.Collection, demo.Version, cancellationToken);
        return true;
    }

    private async Task<int> PublishAsync(DemoOptions demo, CancellationToken cancellationToken)
    {
        var total = File.ReadLines(demo.Corpus).Count();
        var parser = new DocumentChangeParser();
        var provider = streams.Value.ProviderName;
        await using IDocumentChangePublisher publisher = streams.Value.Transport == DocumentStreamTransport.Kafka
            ? new KafkaPublisher(kafka.Get(provider).BootstrapServers, kafka.Get(provider).Topic, kafka.Get(provider).Config)
            : new PostgresLogPublisher(dataSource, provider);
        var batch = new List<DocumentChange>(PublishBatch);
        var published = 0;
        var nextReport = total / 10;
        foreach (var line in File.ReadLines(demo.Corpus))
        {
            if (parser.Parse(System.Text.Encoding.UTF8.GetBytes(line)).Change is { } change && change.Collection == demo.Collection)
            {
                batch.Add(change);
            }

            if (batch.Count == PublishBatch)
            {
                await publisher.PublishManyAsync(batch, cancellationToken);
                published += batch.Count;
                batch.Clear();
                if (published >= nextReport)
                {
                    LogPublished(logger, published, total, provider);
                    nextReport += total / 10;
                }
            }
        }

        await publisher.PublishManyAsync(batch, cancellationToken);
        published += batch.Count;
        LogPublished(logger, published, total, provider);
        return published;
    }

    private async Task FollowIndexingAsync(string quotedTable, int expected, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        long indexed = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5));
        while (indexed < expected && await timer.WaitForNextTickAsync(cancellationToken))
        {
            await using var count = dataSource.CreateCommand($"SELECT count(*) FROM {quotedTable}");
            indexed = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
            LogIndexed(logger, indexed, expected, indexed / Math.Max(clock.Elapsed.TotalSeconds, 0.001));
        }

        LogDone(logger, expected, clock.Elapsed.TotalSeconds);
    }

    [LoggerMessage(EventId = 5000, Level = LogLevel.Information, Message = "Demo collection {Collection} exists; nothing to load")]
    private static partial void LogPresent(ILogger logger, string collection);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "No demo corpus at {Corpus}: run `bash infra/corpus/debian-corpus.sh` (infra/run.sh does) to ingest the Debian demo")]
    private static partial void LogNoCorpus(ILogger logger, string corpus);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "Building a {Dimensions}-dimension static model from {Corpus}")]
    private static partial void LogBuildingModel(ILogger logger, int dimensions, string corpus);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "Created collection {Collection} with version {Version} ({Dimensions} dimensions) in {Seconds:F1} s")]
    private static partial void LogCreated(ILogger logger, string collection, string version, int dimensions, double seconds);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "Published {Published}/{Total} demo documents to stream {Provider}")]
    private static partial void LogPublished(ILogger logger, int published, int total, string provider);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Information, Message = "Indexed {Indexed}/{Expected} demo documents ({Rate:F0}/s)")]
    private static partial void LogIndexed(ILogger logger, long indexed, int expected, double rate);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Information, Message = "The demo collection is indexed: {Expected} documents in {Seconds:F0} s")]
    private static partial void LogDone(ILogger logger, int expected, double seconds);

    [LoggerMessage(EventId = 5007, Level = LogLevel.Error, Message = "Loading the demo collection {Collection} failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, string collection);
}
