using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Embeddings.Client.Publishing;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Streaming.Kafka;
using Orleans.Embeddings.Streaming.PostgresLog;
using Orleans.Embeddings.Testing;
using Orleans.Configuration;
using Orleans.Hosting;

namespace Orleans.Embeddings.Benchmarks.Streams;

/// <summary>
/// Publishes and consumes 200k small events through each transport (the PostgreSQL log, and Kafka on librdkafka's mock
/// cluster) with a no-op consumer grain on one silo: events/s produced and consumed, and end-to-end latency both
/// saturated and at a steady moderate rate.
/// </summary>
internal sealed class StreamsBenchmark : IBenchmark
{
    /// <summary>The collection (stream namespace) the no-op consumer subscribes to.</summary>
    public const string Collection = "bench";

    private const int Events = 200_000;
    private const int Documents = 2_000;
    private const int Queues = 8;
    private const int PublishBatch = 5_000;
    private const int SteadyRate = 2_000;
    private static readonly TimeSpan SteadyDuration = TimeSpan.FromSeconds(10);
    private const double TargetPgConsumedPerSecond = 10_000;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await using var database = await BenchmarkDatabase.CreateAsync("streams", cancellationToken);
        using var kafka = KafkaMockCluster.Start();
        kafka.CreateTopic("bench-changes", Queues);
        Console.WriteLine($"streams benchmark: {Events:N0} events over {Documents:N0} documents, {Queues} queues, one silo, no-op consumer; then {SteadyRate:N0} events/s for {SteadyDuration.TotalSeconds:F0} s");
        Console.WriteLine($"librdkafka {Confluent.Kafka.Library.VersionString} mock cluster at {kafka.BootstrapServers}");

        var pg = await RunTransportAsync(
            "postgres",
            silo => silo.AddPostgresLogStreams("bench-pg", o => o.Configure(p => p.QueueCount = Queues)),
            () => new PostgresLogPublisher(database.DataSource, "bench-pg"),
            database,
            cancellationToken);
        var kf = await RunTransportAsync(
            "kafka",
            silo => silo.AddKafkaStreams("bench-kafka", o => o.Configure(k =>
            {
                k.BootstrapServers = kafka.BootstrapServers;
                k.Topic = "bench-changes";
                k.Partitions = Queues;
            })),
            () => new KafkaPublisher(kafka.BootstrapServers, "bench-changes"),
            database,
            cancellationToken);

        Console.WriteLine();
        Console.WriteLine($"{"transport",-10} {"produced/s",11} {"consumed/s",11} {"drained/s",10} {"sat. p50 ms",12} {"sat. p99 ms",12} {"steady p50 ms",14} {"steady p99 ms",14}");
        foreach (var r in new[] { pg, kf })
        {
            Console.WriteLine($"{r.Name,-10} {r.ProducedPerSecond,11:N0} {r.ConsumedPerSecond,11:N0} {r.DrainedPerSecond,10:N0} {r.SaturatedP50,12:F1} {r.SaturatedP99,12:F1} {r.SteadyP50,14:F1} {r.SteadyP99,14:F1}");
        }

        Console.WriteLine("consumed/s: publishing and consuming at once; drained/s: a backlog consumed with nothing else running; sat.: latency while saturated; steady: at 2,000 events/s");
        Console.WriteLine($"PostgreSQL log consumed/s: {pg.ConsumedPerSecond:N0} (target >= {TargetPgConsumedPerSecond:N0}: {(pg.ConsumedPerSecond >= TargetPgConsumedPerSecond ? "met" : "NOT met")})");
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"RESULT streams pg_consumed_per_s={pg.ConsumedPerSecond:F0} kafka_consumed_per_s={kf.ConsumedPerSecond:F0} pg_drained_per_s={pg.DrainedPerSecond:F0} kafka_drained_per_s={kf.DrainedPerSecond:F0} pg_produced_per_s={pg.ProducedPerSecond:F0} kafka_produced_per_s={kf.ProducedPerSecond:F0} pg_p50_ms={pg.SteadyP50:F1} pg_p99_ms={pg.SteadyP99:F1} kafka_p50_ms={kf.SteadyP50:F1} kafka_p99_ms={kf.SteadyP99:F1} pg_vs_kafka_consumed={pg.ConsumedPerSecond / kf.ConsumedPerSecond:F2}"));
    }

    private static async Task<TransportResult> RunTransportAsync(
        string name, Action<ISiloBuilder> addStreams, Func<IDocumentChangePublisher> createPublisher, BenchmarkDatabase database, CancellationToken cancellationToken)
    {
        await using var publisher = createPublisher();
        TimeSpan drained;
        using (var host = BuildSilo(name, addStreams, database))
        {
            await host.StartAsync(cancellationToken);
            try
            {
                // Backlog drain: the silo consumes events published before, with nothing else running.
                ConsumerStatistics.Reset();
                await PublishAsync(publisher, Documents, 0, cancellationToken);
                await WaitForAsync(Documents, TimeSpan.FromMinutes(2), name, cancellationToken);
                await host.StopAsync(cancellationToken);
                ConsumerStatistics.Reset();
                for (var offset = 0; offset < Events; offset += PublishBatch)
                {
                    await PublishAsync(publisher, Math.Min(PublishBatch, Events - offset), offset, cancellationToken);
                }
            }
            finally
            {
                await host.StopAsync(CancellationToken.None);
            }
        }

        using var silo = BuildSilo(name, addStreams, database);
        var drainClock = Stopwatch.StartNew();
        await silo.StartAsync(cancellationToken);
        await WaitForAsync(Events, TimeSpan.FromMinutes(6), name, cancellationToken);
        drained = drainClock.Elapsed;
        ConsumerStatistics.Reset();
        Console.WriteLine($"{name}: a backlog of {Events:N0} drained in {drained.TotalSeconds:F1} s, silo start included");
        try
        {
            // Warm-up: one event per document activates every consumer grain.
            ConsumerStatistics.Reset();
            await PublishAsync(publisher, Documents, 0, cancellationToken);
            await WaitForAsync(Documents, TimeSpan.FromMinutes(2), name, cancellationToken);
            ConsumerStatistics.Reset();

            var clock = Stopwatch.StartNew();
            for (var offset = 0; offset < Events; offset += PublishBatch)
            {
                await PublishAsync(publisher, Math.Min(PublishBatch, Events - offset), offset, cancellationToken);
            }

            var produced = clock.Elapsed;
            await WaitForAsync(Events, TimeSpan.FromMinutes(6), name, cancellationToken);
            var consumed = clock.Elapsed;
            var saturated = ConsumerStatistics.Reset();
            Console.WriteLine($"{name}: published {Events:N0} in {produced.TotalSeconds:F1} s, all consumed after {consumed.TotalSeconds:F1} s");

            // Steady: small batches every 10 ms at a rate well under capacity.
            var perTick = SteadyRate / 100;
            var ticks = (int)(SteadyDuration.TotalMilliseconds / 10);
            var steadyClock = Stopwatch.StartNew();
            for (var tick = 0; tick < ticks; tick++)
            {
                await PublishAsync(publisher, perTick, tick * perTick, cancellationToken);
                var due = TimeSpan.FromMilliseconds((tick + 1) * 10);
                if (steadyClock.Elapsed < due)
                {
                    await Task.Delay(due - steadyClock.Elapsed, cancellationToken);
                }
            }

            await WaitForAsync(perTick * ticks, TimeSpan.FromMinutes(2), name, cancellationToken);
            var steady = ConsumerStatistics.Reset();
            return new TransportResult(
                name, Events / produced.TotalSeconds, Events / consumed.TotalSeconds, Events / drained.TotalSeconds,
                Percentile(saturated, 0.50), Percentile(saturated, 0.99), Percentile(steady, 0.50), Percentile(steady, 0.99));
        }
        finally
        {
            await silo.StopAsync(CancellationToken.None);
        }
    }

    private static IHost BuildSilo(string name, Action<ISiloBuilder> addStreams, BenchmarkDatabase database)
    {
        var ports = LoopbackPorts.GetFree(2);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Orleans.Runtime.Watchdog", LogLevel.None);
        builder.Services.AddSingleton(database.DataSource);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(ports[0], ports[1], serviceId: "bench-" + name, clusterId: "bench-" + name);
            addStreams(silo);

            // Only the no-op consumer: the indexer's document grain (referenced for the ingest benchmark) subscribes to every collection.
            silo.Configure<GrainTypeOptions>(o => o.Classes.RemoveWhere(t => t.Assembly == typeof(IndexerSiloBuilderExtensions).Assembly));
        });
        return builder.Build();
    }

    private static Task PublishAsync(IDocumentChangePublisher publisher, int count, int offset, CancellationToken cancellationToken)
    {
        var stamp = Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture);
        var changes = new DocumentChange[count];
        for (var i = 0; i < count; i++)
        {
            changes[i] = new DocumentChange(Collection, $"doc-{(offset + i) % Documents}", DocumentOperation.Upsert, null, stamp, "{}");
        }

        return publisher.PublishManyAsync(changes, cancellationToken);
    }

    private static async Task WaitForAsync(long count, TimeSpan timeout, string name, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (ConsumerStatistics.Consumed < count)
        {
            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"{name}: only {ConsumerStatistics.Consumed:N0} of {count:N0} events were consumed within {timeout}.");
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    private static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        values.Sort();
        return values[Math.Min(values.Count - 1, (int)Math.Ceiling(p * values.Count) - 1)];
    }

    private sealed record TransportResult(
        string Name, double ProducedPerSecond, double ConsumedPerSecond, double DrainedPerSecond, double SaturatedP50, double SaturatedP99, double SteadyP50, double SteadyP99);
}
