using System.Diagnostics;
using System.Text;
using Orleans.Embeddings.Client.Publishing;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Streaming.PostgresLog;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Streaming.Tests.Publishing;

/// <summary>The producer side: the SDK refuses invalid changes whole-batch, and <c>embeddings ingest</c> names bad lines and publishes the rest.</summary>
public sealed class PublisherTests(MigratedPostgresDatabase database) : IClassFixture<MigratedPostgresDatabase>
{
    [Fact]
    public async Task An_invalid_change_is_refused_naming_it_and_nothing_of_its_batch_is_published()
    {
        var ct = TestContext.Current.CancellationToken;
        var store = new PostgresLogStore(database.DataSource);
        await store.RegisterProviderAsync("sdk", 4, ct);
        await using var publisher = new PostgresLogPublisher(database.DataSource, "sdk");

        await publisher.PublishAsync(new DocumentChange("docs", "a", DocumentOperation.Upsert, null, "text", """{"lang":"en"}"""), ct);
        var error = await Assert.ThrowsAsync<ArgumentException>(() => publisher.PublishManyAsync(
            [
                new DocumentChange("docs", "b", DocumentOperation.Upsert, 1, "fine", "{}"),
                new DocumentChange("Not A Collection", "c", DocumentOperation.Upsert, 1, "text", "{}"),
            ],
            ct));

        Assert.Contains("change #1", error.Message, StringComparison.Ordinal);
        Assert.Contains("Not A Collection", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, await store.CountPendingAsync("sdk", ct));
    }

    [Fact]
    public async Task Ingest_publishes_the_good_lines_and_names_the_bad_ones()
    {
        var ct = TestContext.Current.CancellationToken;
        var file = Path.Combine(Path.GetTempPath(), $"ingest-{Guid.NewGuid():N}.jsonl");
        var lines = new List<byte[]>
        {
            Encoding.UTF8.GetBytes("""{"collection":"docs","id":"1","op":"upsert","content":"one"}"""),
            Encoding.UTF8.GetBytes("""{"collection":"docs","op":"upsert","content":"no id"}"""),
            Encoding.UTF8.GetBytes("""{"collection":"docs","id":"2","op":"delete","seq":7}"""),
            (byte[])[.. Encoding.UTF8.GetBytes("{\"collection\":\"docs\",\"id\":\"3\",\"op\":\"upsert\",\"content\":"), 0x22, 0xC3, 0x28, 0x22, 0x7D],
            Encoding.UTF8.GetBytes("""{"collection":"docs","id":"4","op":"upsert","content":"four","metadata":{"n":4}}"""),
        };
        await File.WriteAllBytesAsync(file, [.. lines.SelectMany(l => l.Append((byte)'\n'))], ct);
        try
        {
            var cli = Path.Combine(RepositoryPaths.Root, "client", "Orleans.Embeddings.Cli", "bin", RepositoryPaths.Configuration, "net10.0", "embeddings.dll");
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in new[] { cli, "ingest", file, "--connection", database.ConnectionString, "--provider", "ingest", "--queues", "4" })
            {
                start.ArgumentList.Add(argument);
            }

            start.Environment["COLUMNS"] = "200";
            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync(ct) + await process.StandardError.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct);

            Assert.True(process.ExitCode == 1, $"exit code {process.ExitCode}:\n{output}");
            Assert.Contains("line 2: \"id\" is missing", output, StringComparison.Ordinal);
            Assert.Contains("line 4: the event is not valid UTF-8", output, StringComparison.Ordinal);
            Assert.Equal(3, await new PostgresLogStore(database.DataSource).CountPendingAsync("ingest", ct));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
