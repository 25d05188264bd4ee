using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Orleans.Embeddings.Client.Publishing;
using Orleans.Embeddings.Collections;
using Orleans.Embeddings.Documents;
using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Silo.Api;
using Orleans.Embeddings.Storage;
using Orleans.Embeddings.Storage.Naming;
using Orleans.Embeddings.Storage.Routing;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Silo.Tests.Cluster;

/// <summary>
/// DESIGN invariants 1-3 across PostgreSQL restarts (issue 18): two silo processes (ADO.NET clustering, the PostgreSQL log)
/// on a PostgreSQL of their own, which is restarted (<c>pg_ctl stop -m fast</c>, a few seconds down, start on the same
/// port) once while upserts and deletes are being ingested and once in the middle of a rollout's bulk load. The silos
/// keep running, say they are not ready while the database is gone and ready again after, without being restarted;
/// the load resumes from its checkpoints. A second rollout then runs while every connection of the silos is terminated
/// (<c>pg_terminate_backend</c>) at random moments. All three version tables end with every document at its last change.
/// </summary>
public sealed class PostgresRestartTests : IAsyncLifetime
{
    private const string Collection = "restart";
    private const string OperatorToken = "restart-operator-token-0123456789";
    private const int Documents = 1200;
    private const int IngestRounds = 6;
    private const int RolloutRounds = 8;
    private const int Rounds = 10;
    private const string TestApplication = "restart-test";
    private const int ChunkSize = 150;
    private static readonly TimeSpan s_downtime = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan s_convergeTimeout = TimeSpan.FromSeconds(120);

    private static readonly HttpClient s_api = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly PostgresServer _server = PostgresServer.CreateEphemeral();
    private readonly List<string> _report = [];
    private string _connectionString = string.Empty;
    private NpgsqlDataSource _dataSource = null!;
    private long _failedPublishes;

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    // Each document's change in each round (its seq is the round): most are upserted every round; i % 6 == 0 is deleted
    // last during the ingest, 1 is deleted and upserted again, 2 is deleted last during the first rollout, 3 is deleted
    // during the ingest, upserted again during the first rollout and deleted last during the second, 4 keeps changing
    // through both rollouts, 5 stops after the ingest.
    private static DocumentOperation? Operation(int i, int round) => (i % 6, round) switch
    {
        (0, 5) or (1, 3) or (3, 6) or (2, 8) or (3, 10) => DocumentOperation.Delete,
        (0, > 5) or (1, 4) or (1, > IngestRounds) or (3, 8) or (2, > RolloutRounds) or (5, > IngestRounds) => null,
        _ => DocumentOperation.Upsert,
    };

    private static string Text(int i, int round) => $"package {i} revision {round} word w{i * 7} and w{(i + round) * 13}";

    private static string Id(int i) => $"p{i}";

    // A document's last change up to a round: its seq, and whether it was a delete.
    private static (long Seq, bool Deleted) LastChange(int i, int lastRound = Rounds)
    {
        var round = Enumerable.Range(1, lastRound).Last(r => Operation(i, r) is not null);
        return (round, Operation(i, round) == DocumentOperation.Delete);
    }

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        await _server.InitializeAsync();
        _connectionString = await _server.CreateDatabaseAsync("restart");
        // The test's own connections carry a name of their own, so that the connection chaos spares them.
        _dataSource = EmbeddingsDataSource.Create(new NpgsqlConnectionStringBuilder(_connectionString) { ApplicationName = TestApplication }.ConnectionString);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }

        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Silos_survive_PostgreSQL_restarts_and_dropped_connections_and_every_version_ends_at_the_last_change()
    {
        var clock = Stopwatch.StartNew();
        var settings = new Dictionary<string, string>(ProcessCluster.Settings(_connectionString, $"restart-{Guid.NewGuid():N}"[..20]))
        {
            ["Embeddings:Api:OperatorToken"] = OperatorToken,
            // Small pages, one at a time per silo: the load lasts long enough to be interrupted in its middle.
            ["Embeddings:Indexer:Rollouts:PageSize"] = "8",
            ["Embeddings:Indexer:Rollouts:ConcurrentPages"] = "1",
            ["Embeddings:Indexer:Rollouts:TickInterval"] = "00:00:00.250",
            // No lease expires during the test, however slow the machine: an event still unacknowledged at the end, or
            // leased twice, is then an acknowledgement the restart lost, not a slow consumer.
            ["Embeddings:Streams:Postgres:VisibilityTimeout"] = "00:02:00",
        };
        await using var siloA = SiloProcess.Start("A", settings);
        await using var siloB = SiloProcess.Start("B", settings);
        SiloProcess[] silos = [siloA, siloB];
        await Task.WhenAll(silos.Select(s => s.WaitUntilReadyAsync(s_startTimeout, Cancellation)));
        var identities = await Task.WhenAll(silos.Select(SiloIdentityAsync));
        Log($"silos ready after {clock.Elapsed.TotalSeconds:F1} s");

        var models = Directory.CreateTempSubdirectory("oe-restart-").FullName;
        try
        {
            var texts = Enumerable.Range(0, Documents).SelectMany(i => Enumerable.Range(1, Rounds).Select(r => Text(i, r))).ToList();
            var v1 = new StaticEmbeddingModelBuilder { Dimensions = 32, MaxTokens = 32, Seed = 2 }.Build(texts, Path.Combine(models, "v1"), "restart-v1");
            var v2 = new StaticEmbeddingModelBuilder { Dimensions = 32, MaxTokens = 32, Seed = 3 }.Build(texts, Path.Combine(models, "v2"), "restart-v2");
            var v3 = new StaticEmbeddingModelBuilder { Dimensions = 24, MaxTokens = 32, Seed = 4 }.Build(texts, Path.Combine(models, "v3"), "restart-v3");
            var setup = new CollectionSetup(new CollectionCatalog(_dataSource), new RoutingStore(_dataSource));
            var v1Table = (await setup.CreateAsync(Collection, "v1", v1.Directory, cancellationToken: Cancellation)).QuotedTable;
            var v2Table = StorageNames.Quote(StorageNames.VersionTableName(Collection, "v2"));
            var v3Table = StorageNames.Quote(StorageNames.VersionTableName(Collection, "v3"));

            // 1. A restart while the ingest runs: the producer keeps publishing, repeating what failed.
            await using var publisher = new PostgresLogPublisher(_dataSource, "documents");
            var secondRoundPublished = new TaskCompletionSource();
            var ingest = Task.Run(() => PublishRoundsAsync(publisher, 1, IngestRounds, TimeSpan.FromMilliseconds(600), round =>
            {
                if (round == 2)
                {
                    secondRoundPublished.TrySetResult();
                }
            }), Cancellation);
            await secondRoundPublished.Task.WaitAsync(TimeSpan.FromSeconds(60), Cancellation);
            var inFlight = await CountAsync("SELECT count(*) FROM embeddings_stream_log WHERE acked_at IS NULL");
            Assert.True(inFlight > 0, "every published change was indexed before PostgreSQL went down");
            await RestartAsync("mid-ingest", silos);
            Assert.False(ingest.IsCompleted, "the ingest was published completely before PostgreSQL went down");
            await ingest;
            var afterIngest = await SettleAsync(v1Table, IngestRounds);
            Log($"v1 after the ingest ({clock.Elapsed.TotalSeconds:F1} s): {afterIngest}");
            Assert.True(afterIngest == Divergence.None, $"{v1Table} did not reach every document's last change of the ingest: {afterIngest}{Outputs(silos)}");

            // 2. A restart in the middle of a rollout's bulk load, with live changes flowing.
            using var api = new HttpClient { BaseAddress = siloA.HttpAddress, Timeout = TimeSpan.FromSeconds(30) };
            api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OperatorToken);
            await StartRolloutAsync(api, "v2", v2.Directory);
            var live = Task.Run(() => PublishRoundsAsync(publisher, IngestRounds + 1, RolloutRounds, TimeSpan.FromMilliseconds(1500), _ => { }), Cancellation);
            var before = await WaitForLoadProgressAsync(silos);
            await RestartAsync("mid-bulk-load", silos);
            var (behind, resumed) = await WaitForRolloutReadyAsync(api, "v2", before, silos);
            await live;
            Log($"v2 Ready after {clock.Elapsed.TotalSeconds:F1} s; {resumed} load range(s) resumed from their checkpoints");
            Assert.Empty(behind);
            Assert.True(resumed > 0, "no load range resumed from its checkpoint after the restart");
            foreach (var table in new[] { v1Table, v2Table })
            {
                var settled = await SettleAsync(table, RolloutRounds);
                Assert.True(settled == Divergence.None, $"{table} differs from every document's last change after the first rollout: {settled}{Outputs(silos)}");
            }

            // v1 is checked one last time, then v2 promoted and v1 retired (its table dropped), which ends the rollout.
            await ProcessCluster.AssertVectorsAsync(_dataSource, v1Table, v1, LastTexts(RolloutRounds));
            await CommandAsync(api, "promote", new { version = "v2" });
            await CommandAsync(api, "retire", new { version = "v1" });
            await ProcessCluster.WaitUntilAsync(
                async () => (await api.GetFromJsonAsync<RolloutStatus>($"/api/collections/{Collection}/rollout", RolloutEndpoints.Json, Cancellation))!.Rollout?.Step == "done",
                s_convergeTimeout,
                () => $"the rollout of v2 did not end after v1 was retired{Outputs(silos)}");

            // 3. A second rollout while every connection of the silos is terminated (pg_terminate_backend) at random
            //    moments, with live changes flowing.
            await StartRolloutAsync(api, "v3", v3.Directory);
            using var stopChaos = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
            var chaos = ConnectionChaos.RunAsync(_dataSource, TestApplication, seed: 18, stopChaos.Token);
            var liveDuringChaos = Task.Run(() => PublishRoundsAsync(publisher, RolloutRounds + 1, Rounds, TimeSpan.FromMilliseconds(1500), _ => { }), Cancellation);
            await WaitForRolloutReadyAsync(api, "v3", new Dictionary<int, Cursor>(), silos);
            await liveDuringChaos;
            await stopChaos.CancelAsync();
            var terminated = await chaos;
            Log($"v3 Ready after {clock.Elapsed.TotalSeconds:F1} s with {terminated} silo connections terminated at random meanwhile");
            Assert.True(terminated >= 10, $"only {terminated} connections were terminated during the second rollout");

            // 4. Both tables at every document's last change, the vectors those of the last texts, nothing dead-lettered.
            var v2Divergence = await SettleAsync(v2Table, Rounds);
            var v3Divergence = await SettleAsync(v3Table, Rounds);
            Log($"v2: {v2Divergence}; v3: {v3Divergence}; {Interlocked.Read(ref _failedPublishes)} publishes repeated; " +
                $"{await CountAsync("SELECT count(*) FROM embeddings_stream_dead_letters")} dead letters; total {clock.Elapsed.TotalSeconds:F1} s");
            Assert.True(v2Divergence == Divergence.None, $"{v2Table} differs from every document's last change: {v2Divergence}{Outputs(silos)}");
            Assert.True(v3Divergence == Divergence.None, $"{v3Table} differs from every document's last change: {v3Divergence}{Outputs(silos)}");
            Assert.Equal(0, await CountAsync("SELECT count(*) FROM embeddings_stream_dead_letters"));
            Assert.Equal(Documents, await CountAsync(
                """
                SELECT count(*) FROM embeddings_documents d
                  JOIN unnest(@ids, @seqs, @deleted) AS e (id, seq, deleted) ON e.id = d.id AND e.seq = d.seq AND e.deleted = d.deleted
                 WHERE d.collection = @collection
                """,
                ("ids", Enumerable.Range(0, Documents).Select(Id).ToArray()),
                ("seqs", Enumerable.Range(0, Documents).Select(i => LastChange(i).Seq).ToArray()),
                ("deleted", Enumerable.Range(0, Documents).Select(i => LastChange(i).Deleted).ToArray()),
                ("collection", Collection)));
            await ProcessCluster.AssertVectorsAsync(_dataSource, v2Table, v2, LastTexts(Rounds));
            await ProcessCluster.AssertVectorsAsync(_dataSource, v3Table, v3, LastTexts(Rounds));

            // Every event acknowledged soon after, long before a lease expires: an acknowledgement that failed while the
            // database was gone was made again instead of waiting for its lease to expire, a lease whose answer was lost
            // was given back, and no event was leased twice but after a delivery that failed (its error recorded: a
            // connection terminated under the consumer's write).
            await ProcessCluster.WaitUntilAsync(
                async () => await CountAsync("SELECT count(*) FROM embeddings_stream_log WHERE acked_at IS NULL") == 0,
                TimeSpan.FromSeconds(15),
                () => "events of the log were still unacknowledged 15 s after both tables were complete");
            var leasedAgain = await CountAsync("SELECT count(*) FROM embeddings_stream_log WHERE attempts > 1 AND last_error IS NULL");
            var retried = await CountAsync("SELECT count(*) FROM embeddings_stream_log WHERE last_error IS NOT NULL");
            Log($"{await CountAsync("SELECT count(*) FROM embeddings_stream_log")} events in the log, {retried} delivered again after a failed delivery, {leasedAgain} leased more than once without one");
            Assert.Equal(0, leasedAgain);

            // The same processes, the same silos (a silo address carries its start time), all along.
            Assert.All(silos, s => Assert.False(s.HasExited, $"{s.Name} exited:\n{s.Output}"));
            Assert.Equal(identities, await Task.WhenAll(silos.Select(SiloIdentityAsync)));
        }
        finally
        {
            // Passing tests' output is not shown: the figures go to postgres-restart.log beside the test binaries.
            File.AppendAllText(
                Path.Combine(AppContext.BaseDirectory, "postgres-restart.log"),
                $"{DateTime.UtcNow:O} {string.Join("; ", _report)}{Environment.NewLine}");
            Directory.Delete(models, recursive: true);
        }
    }

    // Every 20th live document's last text up to a round: what its vector must be the embedding of.
    private static Dictionary<string, string> LastTexts(int lastRound) =>
        Enumerable.Range(0, Documents).Where(i => i % 20 == 0 && !LastChange(i, lastRound).Deleted).ToDictionary(Id, i => Text(i, (int)LastChange(i, lastRound).Seq));

    private static async Task CommandAsync(HttpClient api, string command, object body)
    {
        using var response = await api.PostAsJsonAsync($"/api/collections/{Collection}/rollout/{command}", body, Cancellation);
        Assert.True(response.IsSuccessStatusCode, $"{command}: {await response.Content.ReadAsStringAsync(Cancellation)}");
    }

    private static async Task StartRolloutAsync(HttpClient api, string version, string modelPath)
    {
        using (var register = await api.PostAsJsonAsync($"/api/collections/{Collection}/models", new { version, modelPath }, Cancellation))
        {
            Assert.True(register.IsSuccessStatusCode, await register.Content.ReadAsStringAsync(Cancellation));
        }

        using var start = await api.PostAsJsonAsync($"/api/collections/{Collection}/rollout/start", new { version }, Cancellation);
        Assert.True(start.IsSuccessStatusCode, await start.Content.ReadAsStringAsync(Cancellation));
    }

    // Publishes rounds first..last in chunks; a publish that fails because PostgreSQL is gone did not commit (or, if it
    // did, publishing it again is a harmless duplicate of the same seq): the producer repeats it until it goes through.
    private async Task PublishRoundsAsync(PostgresLogPublisher publisher, int first, int last, TimeSpan pause, Action<int> published)
    {
        for (var round = first; round <= last; round++)
        {
            var changes = Enumerable.Range(0, Documents)
                .Where(i => Operation(i, round) is not null)
                .Select(i => Operation(i, round) == DocumentOperation.Delete
                    ? new DocumentChange(Collection, Id(i), DocumentOperation.Delete, round, null, "{}")
                    : new DocumentChange(Collection, Id(i), DocumentOperation.Upsert, round, Text(i, round), "{}"))
                .ToList();
            foreach (var chunk in changes.Chunk(ChunkSize))
            {
                while (true)
                {
                    try
                    {
                        await publisher.PublishManyAsync(chunk, Cancellation);
                        break;
                    }
                    catch (Exception ex) when (PostgresFailures.IsConnectionLoss(ex))
                    {
                        Interlocked.Increment(ref _failedPublishes);
                        await Task.Delay(200, Cancellation);
                    }
                }

                await Task.Delay(100, Cancellation);
            }

            published(round);
            await Task.Delay(pause, Cancellation);
        }
    }

    // Stops PostgreSQL (fast), keeps it down a few seconds while both silos' readiness is polled, starts it again and
    // waits until both silos are ready without restarting them.
    private async Task RestartAsync(string when, SiloProcess[] silos)
    {
        var notReady = new int[silos.Length];
        var unanswered = new int[silos.Length];
        using var polling = CancellationTokenSource.CreateLinkedTokenSource(Cancellation);
        var pollers = silos.Select((silo, n) => Task.Run(async () =>
        {
            while (!polling.IsCancellationRequested)
            {
                try
                {
                    var (status, _) = await silo.GetAsync("/ready", polling.Token);
                    if (status == HttpStatusCode.ServiceUnavailable)
                    {
                        Interlocked.Increment(ref notReady[n]);
                    }

                    await Task.Delay(100, polling.Token);
                }
                catch (OperationCanceledException) when (polling.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    Interlocked.Increment(ref unanswered[n]); // the process must keep answering, whatever the database does
                }
            }
        }, CancellationToken.None)).ToArray();

        var clock = Stopwatch.StartNew();
        await _server.StopAsync();
        var stopped = clock.Elapsed;
        await ProcessCluster.WaitUntilAsync(
            () => Task.FromResult(Enumerable.Range(0, silos.Length).All(n => Volatile.Read(ref notReady[n]) > 0)),
            TimeSpan.FromSeconds(30),
            () => $"not every silo answered 503 on /ready while PostgreSQL was down ({string.Join(", ", notReady)}){Outputs(silos)}",
            TimeSpan.FromMilliseconds(50));
        var allNotReady = clock.Elapsed;
        var apiAnswers = new List<string>();
        foreach (var silo in silos)
        {
            apiAnswers.AddRange(await AssertApiAnswersWhileDownAsync(silo));
        }

        if (clock.Elapsed < stopped + s_downtime)
        {
            await Task.Delay(stopped + s_downtime - clock.Elapsed, Cancellation);
        }

        await _server.StartAsync();
        var started = clock.Elapsed;
        _dataSource.Clear(); // the test's own idle connections died with the server
        var ready = ReadyAsync();

        // The silos listen for appends to the log and for routing changes again, each on a new connection (checked before a
        // quiet listener's liveness query, after 30 s, replaces its LISTEN as the session's last statement).
        long listening = 0;
        await ProcessCluster.WaitUntilAsync(
            async () => (listening = await CountAsync(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query IN ('LISTEN embeddings_stream_log', 'LISTEN embeddings_routing')")) >= 2 * silos.Length,
            TimeSpan.FromSeconds(10),
            () => $"{listening} connections listen after the restart, not {2 * silos.Length}");
        var readyAt = await ready;
        await polling.CancelAsync();
        await Task.WhenAll(pollers);
        Assert.All(silos, s => Assert.False(s.HasExited, $"{s.Name} exited:\n{s.Output}"));
        Log($"restart {when}: stopped in {stopped.TotalSeconds:F1} s, every silo not ready {allNotReady.TotalSeconds:F1} s after the stop began, " +
            $"down {(started - stopped).TotalSeconds:F1} s, every silo ready {(readyAt - started).TotalSeconds:F1} s after the start; " +
            $"/ready 503s {string.Join("/", notReady)}, unanswered {string.Join("/", unanswered)}; the API while down: {string.Join(", ", apiAnswers)}");
        Assert.All(unanswered, n => Assert.Equal(0, n));

        async Task<TimeSpan> ReadyAsync()
        {
            await Task.WhenAll(silos.Select(s => s.WaitUntilReadyAsync(TimeSpan.FromSeconds(60), Cancellation)));
            return clock.Elapsed;
        }
    }

    // While the database is down the API answers what needs it with 503, Retry-After and a JSON error saying so (never a
    // 500 or an exception page); what a silo can answer from memory (an active coordinator's status) may still be 200.
    private static async Task<IEnumerable<string>> AssertApiAnswersWhileDownAsync(SiloProcess silo)
    {
        var answers = new List<string>();
        foreach (var (path, mayAnswer) in new[]
        {
            ("/api/collections", false),
            ($"/collections/{Collection}/search?q=package&k=5", false),
            ($"/api/collections/{Collection}/rollout", true),
        })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(silo.HttpAddress, path));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", OperatorToken);
            using var response = await s_api.SendAsync(request, Cancellation);
            var body = await response.Content.ReadAsStringAsync(Cancellation);
            answers.Add($"{silo.Name} {path.Split('?')[0]} {(int)response.StatusCode}");
            if (mayAnswer && response.StatusCode == HttpStatusCode.OK)
            {
                continue;
            }

            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{silo.Name} GET {path} while PostgreSQL was down: {(int)response.StatusCode} {body}");
            Assert.Contains("The database is unavailable; repeat the request shortly.", JsonDocument.Parse(body).RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
            Assert.Equal(TimeSpan.FromSeconds(ErrorResponses.RetryAfterSeconds), response.Headers.RetryAfter?.Delta);
        }

        return answers;
    }

    // Waits until the bulk load has written a good part of the documents but not all, and returns every range's cursor then.
    private async Task<IReadOnlyDictionary<int, Cursor>> WaitForLoadProgressAsync(SiloProcess[] silos)
    {
        IReadOnlyDictionary<int, Cursor> cursors = new Dictionary<int, Cursor>();
        await ProcessCluster.WaitUntilAsync(
            async () =>
            {
                cursors = await CursorsAsync();
                return cursors.Values.Sum(c => c.Written) >= Documents / 8;
            },
            TimeSpan.FromSeconds(90),
            () => $"the bulk load of v2 did not write {Documents / 8} documents: {string.Join(", ", cursors.Select(c => $"{c.Key}: {c.Value}"))}{Outputs(silos)}",
            TimeSpan.FromMilliseconds(20));
        Assert.True(cursors.Values.Any(c => !c.Done), "the bulk load was over before PostgreSQL went down");
        Log($"load before the restart: {cursors.Values.Count(c => c.Done)}/{cursors.Count} ranges done, {cursors.Values.Sum(c => c.Pages)} pages " +
            $"and {cursors.Values.Sum(c => c.Written)} documents written");
        return cursors;
    }

    // Polls the rollout through the operator API until v2 is Ready (a poll that fails is repeated, as an operator would),
    // and the checkpoints on the way. A range that resumed from its checkpoint is never seen behind the cursor it had
    // committed before the restart (in the same pass), and counts one resume. Returns what was seen behind, and how many
    // of the ranges that were under way when PostgreSQL went down resumed.
    private async Task<(IReadOnlyList<string> Behind, int Resumed)> WaitForRolloutReadyAsync(HttpClient api, string version, IReadOnlyDictionary<int, Cursor> before, SiloProcess[] silos)
    {
        var behind = new List<string>();
        var resumed = new HashSet<int>();
        var last = "no status yet";
        await ProcessCluster.WaitUntilAsync(
            async () =>
            {
                foreach (var (range, cursor) in await CursorsAsync(version))
                {
                    if (before.GetValueOrDefault(range) is not { Pages: > 0 } earlier)
                    {
                        continue;
                    }

                    if (cursor.Pass == earlier.Pass && (cursor.Pages < earlier.Pages || cursor.NextShard < earlier.NextShard))
                    {
                        behind.Add($"range {range} at shard {cursor.NextShard} after {cursor.Pages} pages, before the restart at shard {earlier.NextShard} after {earlier.Pages}");
                    }

                    if (cursor.Resumes > earlier.Resumes)
                    {
                        resumed.Add(range); // a later pass keeps the count
                    }
                }

                using var response = await api.GetAsync($"/api/collections/{Collection}/rollout", Cancellation);
                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Cancellation)}";
                if (!response.IsSuccessStatusCode)
                {
                    return false;
                }

                var status = JsonSerializer.Deserialize<RolloutStatus>(await response.Content.ReadAsStringAsync(Cancellation), RolloutEndpoints.Json)!;
                Assert.True(status.Rollout?.Step != "failed", $"the rollout failed: {last}");
                return status.Versions.Single(v => v.Version == version).State == VersionState.Ready;
            },
            s_convergeTimeout,
            () => $"{version} was not Ready within {s_convergeTimeout}; last status: {last}{Outputs(silos)}");
        return (behind, resumed.Count);
    }

    private async Task<IReadOnlyDictionary<int, Cursor>> CursorsAsync(string version = "v2")
    {
        await using var command = _dataSource.CreateCommand(
            "SELECT range_index, pass, next_shard, pages, written, done, resumes FROM embeddings_load_checkpoints WHERE collection = $1 AND version = $2");
        command.Parameters.AddWithValue(Collection);
        command.Parameters.AddWithValue(version);
        var cursors = new Dictionary<int, Cursor>();
        await using var reader = await command.ExecuteReaderAsync(Cancellation);
        while (await reader.ReadAsync(Cancellation))
        {
            cursors[reader.GetInt32(0)] = new Cursor(reader.GetInt32(1), reader.GetInt32(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetBoolean(5), reader.GetInt32(6));
        }

        return cursors;
    }

    // Waits until every document published in rounds up to lastRound is at its last change in a version table, or the
    // time is up; returns what still differs then.
    private async Task<Divergence> SettleAsync(string table, int lastRound)
    {
        var deadline = DateTime.UtcNow + s_convergeTimeout;
        Divergence divergence;
        while ((divergence = await DivergenceAsync(table, lastRound)) != Divergence.None && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250, Cancellation);
        }

        return divergence;
    }

    // Compares a version table with each document's last change up to lastRound: a live document whose row is missing is
    // lost; a row at an older seq (live or tombstone) is stale; a live row of a document whose last change is a delete is
    // a resurrected delete (a deleted document may also have no row: a load writes no tombstone for a row it never wrote).
    private async Task<Divergence> DivergenceAsync(string table, int lastRound)
    {
        var rows = new Dictionary<string, (long Seq, bool Deleted)>();
        await using (var command = _dataSource.CreateCommand($"SELECT id, seq, deleted FROM {table}"))
        await using (var reader = await command.ExecuteReaderAsync(Cancellation))
        {
            while (await reader.ReadAsync(Cancellation))
            {
                rows[reader.GetString(0)] = (reader.GetInt64(1), reader.GetBoolean(2));
            }
        }

        int lost = 0, stale = 0, resurrected = 0;
        for (var i = 0; i < Documents; i++)
        {
            var (seq, deleted) = LastChange(i, lastRound);
            if (!rows.TryGetValue(Id(i), out var row))
            {
                lost += deleted ? 0 : 1;
            }
            else if (deleted && !row.Deleted)
            {
                resurrected++;
            }
            else if (row.Seq < seq)
            {
                stale++;
            }
        }

        return new Divergence(lost, stale, resurrected);
    }

    // The silo address /ready reports (host:port@generation): the same one after a restart of the database shows the
    // silo did not restart.
    private static async Task<string> SiloIdentityAsync(SiloProcess silo)
    {
        var (_, body) = await silo.GetAsync("/ready", Cancellation);
        using var report = JsonDocument.Parse(body);
        return report.RootElement.GetProperty("checks").GetProperty("silo").GetProperty("data").GetProperty("silo").GetString()!;
    }

    private static string Outputs(SiloProcess[] silos) => string.Concat(silos.Select(s => $"\n{s.Name}'s output:\n{s.Output}"));

    private async Task<long> CountAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = _dataSource.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return (long)(await command.ExecuteScalarAsync(Cancellation))!;
    }

    private void Log(string line)
    {
        _report.Add(line);
        TestContext.Current.SendDiagnosticMessage(line);
    }

    private sealed record Cursor(int Pass, int NextShard, long Pages, long Written, bool Done, int Resumes);

    private sealed record Divergence(int Lost, int Stale, int Resurrected)
    {
        public static Divergence None { get; } = new(0, 0, 0);
    }
}
