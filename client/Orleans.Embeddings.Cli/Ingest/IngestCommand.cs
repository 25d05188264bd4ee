using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Embeddings.Client.Publishing;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Storage;
using Orleans.Embeddings.Storage.Migrations;
using Orleans.Embeddings.Streaming.Events;
using Orleans.Embeddings.Streaming.PostgresLog;
using Spectre.Console;

namespace Orleans.Embeddings.Cli.Ingest;

/// <summary><c>embeddings ingest &lt;file.jsonl&gt;</c>: publishes document-change events to the PostgreSQL log or a Kafka topic.</summary>
internal static class IngestCommand
{
    private const int MaxReportedErrors = 20;

    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "JSON lines, one event per line: {\"collection\":\"docs\",\"id\":\"a-1\",\"op\":\"upsert\",\"content\":\"...\"}." };
        var transport = new Option<string>("--transport") { Description = "postgres (the log in PostgreSQL) or kafka.", DefaultValueFactory = _ => "postgres" };
        transport.AcceptOnlyFromAmong("postgres", "kafka");
        var connection = new Option<string?>("--connection")
        {
            Description = "PostgreSQL connection string (default: $Embeddings__Database__ConnectionString or $EMBEDDINGS_PG_CONNECTION).",
        };
        var provider = new Option<string>("--provider") { Description = "Stream provider name (the silo's Embeddings:Streams:ProviderName).", DefaultValueFactory = _ => "documents" };
        var queues = new Option<int>("--queues") { Description = "Queue count to register if no silo has registered the provider yet.", DefaultValueFactory = _ => 8 };
        var bootstrap = new Option<string?>("--bootstrap") { Description = "Kafka bootstrap servers (for Event Hubs: <namespace>.servicebus.windows.net:9093)." };
        var topic = new Option<string>("--topic") { Description = "Kafka topic.", DefaultValueFactory = _ => "document-changes" };
        var kafkaConfig = new Option<string[]>("--kafka-config") { Description = "Extra librdkafka settings, key=value (repeatable), e.g. security.protocol=SASL_SSL.", AllowMultipleArgumentsPerToken = false };
        var batch = new Option<int>("--batch") { Description = "Events per publish call.", DefaultValueFactory = _ => 1000 };

        var command = new Command("ingest", "Publish document-change events from a JSON-lines file, with a progress bar. Bad lines are reported with their line number and skipped.")
        {
            file, transport, connection, provider, queues, bootstrap, topic, kafkaConfig, batch,
        };
        command.SetAction((result, cancellationToken) => RunAsync(
            result.GetValue(file)!, result.GetValue(transport)!, result.GetValue(connection), result.GetValue(provider)!, result.GetValue(queues),
            result.GetValue(bootstrap), result.GetValue(topic)!, result.GetValue(kafkaConfig) ?? [], result.GetValue(batch), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(
        FileInfo file, string transport, string? connection, string provider, int queues, string? bootstrap, string topic,
        string[] kafkaConfig, int batchSize, CancellationToken cancellationToken)
    {
        if (!file.Exists)
        {
            return Fail($"The file {file.FullName} does not exist.");
        }

        if (batchSize is < 1 or > 100_000)
        {
            return Fail($"--batch must be between 1 and 100000 (was {batchSize}).");
        }

        IDocumentChangePublisher publisher;
        if (transport == "kafka")
        {
            if (string.IsNullOrWhiteSpace(bootstrap))
            {
                return Fail("--bootstrap is required with --transport kafka.");
            }

            var config = new Dictionary<string, string>();
            foreach (var pair in kafkaConfig)
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    return Fail($"--kafka-config '{pair}' is not key=value.");
                }

                config[pair[..equals]] = pair[(equals + 1)..];
            }

            publisher = new KafkaPublisher(bootstrap, topic, config);
        }
        else
        {
            connection ??= Environment.GetEnvironmentVariable("Embeddings__Database__ConnectionString") ?? Environment.GetEnvironmentVariable("EMBEDDINGS_PG_CONNECTION");
            if (string.IsNullOrWhiteSpace(connection))
            {
                return Fail("No PostgreSQL connection: pass --connection or set Embeddings__Database__ConnectionString (infra/postgres/setup.sh prints one).");
            }

            var dataSource = EmbeddingsDataSource.Create(connection);
            await new SchemaMigrator(dataSource, NullLogger<SchemaMigrator>.Instance).MigrateAsync(cancellationToken);
            var effective = await new PostgresLogStore(dataSource).EnsureProviderAsync(provider, queues, cancellationToken);
            if (effective != queues)
            {
                AnsiConsole.MarkupLineInterpolated($"[grey]Provider {provider} is registered with {effective} queues; using those.[/]");
            }

            publisher = new PostgresLogPublisher(dataSource, provider);
        }

        await using (publisher)
        {
            return await PublishFileAsync(file, publisher, batchSize, cancellationToken);
        }
    }

    private static async Task<int> PublishFileAsync(FileInfo file, IDocumentChangePublisher publisher, int batchSize, CancellationToken cancellationToken)
    {
        var parser = new DocumentChangeParser();
        var errors = new List<string>();
        long published = 0, bad = 0;
        var stopwatch = Stopwatch.StartNew();
        await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask($"Publishing {file.Name}", maxValue: Math.Max(1, file.Length));
                await using var stream = file.OpenRead();
                var pending = new List<DocumentChange>(batchSize);
                var lineNumber = 0;
                await foreach (var line in JsonLines.ReadAsync(stream, cancellationToken))
                {
                    lineNumber++;
                    if (line.AsSpan().Trim((byte)' ').IsEmpty)
                    {
                        continue;
                    }

                    // Bytes, not strings: an invalid UTF-8 line is reported as such, not silently repaired.
                    var parsed = parser.Parse(line);
                    if (parsed.Change is { } change)
                    {
                        pending.Add(change);
                    }
                    else
                    {
                        bad++;
                        if (errors.Count < MaxReportedErrors)
                        {
                            errors.Add($"line {lineNumber}: {parsed.Error}");
                        }
                    }

                    if (pending.Count >= batchSize)
                    {
                        await publisher.PublishManyAsync(pending, cancellationToken);
                        published += pending.Count;
                        pending.Clear();
                        task.Value = stream.Position;
                        task.Description = $"Publishing {file.Name}: {published:N0} events";
                    }
                }

                if (pending.Count > 0)
                {
                    await publisher.PublishManyAsync(pending, cancellationToken);
                    published += pending.Count;
                }

                task.Value = task.MaxValue;
                task.Description = $"Published {file.Name}: {published:N0} events";
            });

        AnsiConsole.MarkupLineInterpolated($"Published [green]{published:N0}[/] events in {stopwatch.Elapsed.TotalSeconds:F1} s ({published / Math.Max(stopwatch.Elapsed.TotalSeconds, 0.001):N0}/s).");
        if (bad == 0)
        {
            return 0;
        }

        AnsiConsole.MarkupLineInterpolated($"[yellow]{bad:N0} line(s) were not valid events and were skipped:[/]");
        foreach (var error in errors)
        {
            AnsiConsole.MarkupLineInterpolated($"  [yellow]{error}[/]");
        }

        if (bad > errors.Count)
        {
            AnsiConsole.MarkupLineInterpolated($"  [yellow]… and {bad - errors.Count:N0} more.[/]");
        }

        return 1;
    }

    private static int Fail(string message)
    {
        AnsiConsole.MarkupLineInterpolated($"[red]{message}[/]");
        return 2;
    }
}
