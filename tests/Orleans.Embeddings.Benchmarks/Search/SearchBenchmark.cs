using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Embeddings.Client.Search;
using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Sessions;
using Orleans.Embeddings.Storage.Search;
using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Benchmarks.Search;

/// <summary>
/// Search latency through the SDK (an Orleans client over the gateway → SearchGrain → the version's worker, query lane →
/// k-NN on its HNSW-indexed table) against the same work done directly in this process (ONNX Runtime query embedding
/// with the same model + the same SQL k-NN on the silo's connection pool), at 1, 8 and 32 concurrent clients, on the
/// Debian corpus with the static model (256 dimensions), queries being package synopses. A third path does the direct
/// work on a connection pool of its own. The paths alternate in rounds, so the VM's drifting speed affects all alike.
/// </summary>
internal sealed class SearchBenchmark : IBenchmark
{
    private const int K = 10;
    private const int Rounds = 2;
    private static readonly string[] Paths = ["direct", "own-pool", "sdk"];
    private static readonly int[] Concurrency = [1, 8, 32];
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(12);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        var corpus = await DebianCorpus.LoadAsync(cancellationToken);
        var models = Directory.CreateTempSubdirectory("oe-bench-search-").FullName;
        try
        {
            var model = new StaticEmbeddingModelBuilder { Dimensions = 256 }.Build(corpus.Select(p => p.Content), Path.Combine(models, "static"), "debian-static");
            var queries = corpus.Where((_, i) => i % 16 == 0).Select(p => p.Title).ToArray();
            Console.WriteLine($"search benchmark: one silo, {Environment.ProcessorCount} cores; {corpus.Count:N0} documents, static model ({model.Dimensions} dimensions), {queries.Length:N0} synopses as queries, k={K}");

            await using var database = await BenchmarkDatabase.CreateAsync("search", cancellationToken);
            using var silo = BenchmarkSilo.Build(database.ConnectionString, "bench-search", out var gatewayPort);
            await silo.StartAsync(cancellationToken);
            try
            {
                var table = await LoadAsync(silo, database, corpus, model, cancellationToken);
                using var client = BenchmarkSilo.BuildClient(gatewayPort, "bench-search");
                await client.StartAsync(cancellationToken);
                try
                {
                    var sdk = client.Services.GetRequiredService<EmbeddingSearchClient>();
                    using var session = new EmbeddingSession(model, new EmbeddingSessionOptions { IntraOpThreads = 1, AllowSpinning = false });
                    var serverTimes = new System.Collections.Concurrent.ConcurrentQueue<(double Embed, double Search)>();
                    Func<string, Task<int>> sdkSearch = async q =>
                    {
                        var response = await sdk.SearchAsync("debian", q, K, cancellationToken: cancellationToken);
                        serverTimes.Enqueue((response.EmbedMilliseconds, response.SearchMilliseconds));
                        return response.Hits.Count;
                    };
                    // "direct" runs on the silo's own connection pool, the connections the SDK's searches use; "own-pool" on a
                    // pool of its own, whose one busy connection stays warmer than the silo's pool, shared with its background work.
                    var directTimes = new System.Collections.Concurrent.ConcurrentQueue<(double Embed, double Search)>();
                    Func<string, Task<int>> Direct(VectorSearch vectors) => async q =>
                    {
                        var start = Stopwatch.GetTimestamp();
                        var vector = session.Embed([q], EmbeddingPurpose.Query)[0].Vector;
                        var embedded = Stopwatch.GetTimestamp();
                        var hits = await vectors.SearchAsync(table, new VectorSearchRequest(vector, K), cancellationToken);
                        directTimes.Enqueue((Stopwatch.GetElapsedTime(start, embedded).TotalMilliseconds, Stopwatch.GetElapsedTime(embedded).TotalMilliseconds));
                        return hits.Count;
                    };
                    var direct = new VectorSearch(silo.Services.GetRequiredService<Npgsql.NpgsqlDataSource>());
                    var directSearch = Direct(direct);
                    var ownPoolSearch = Direct(new VectorSearch(database.DataSource));

                    await CheckSameHitsAsync(sdk, session, direct, table, queries, cancellationToken);
                    await MeasureAsync(sdkSearch, queries, 1, TimeSpan.FromSeconds(3)); // warm-up
                    await MeasureAsync(directSearch, queries, 1, TimeSpan.FromSeconds(3));
                    var results = new Dictionary<(string Path, int Clients), List<double>>();
                    var counts = new Dictionary<(string Path, int Clients), (int Calls, double Seconds)>();
                    var split = new Dictionary<(string Path, int Clients), (List<double> Embed, List<double> Search)>();
                    for (var round = 0; round < Rounds; round++)
                    {
                        foreach (var clients in Concurrency)
                        {
                            foreach (var (name, search) in new[] { ("direct", directSearch), ("own-pool", ownPoolSearch), ("sdk", sdkSearch) })
                            {
                                var key = (name, clients);
                                serverTimes.Clear();
                                directTimes.Clear();
                                var (latencies, seconds) = await MeasureAsync(search, queries, clients, Window);
                                var times = name == "sdk" ? serverTimes : directTimes;
                                split.TryAdd(key, ([], []));
                                split[key].Embed.AddRange(times.Select(t => t.Embed));
                                split[key].Search.AddRange(times.Select(t => t.Search));

                                results.TryAdd(key, []);
                                results[key].AddRange(latencies);
                                var (calls, time) = counts.GetValueOrDefault(key);
                                counts[key] = (calls + latencies.Count, time + seconds);
                            }
                        }
                    }

                    Report(results, counts, split, total.Elapsed);
                }
                finally
                {
                    await client.StopAsync(CancellationToken.None);
                }
            }
            finally
            {
                await silo.StopAsync(CancellationToken.None);
            }
        }
        finally
        {
            Directory.Delete(models, recursive: true);
        }
    }

    private static void Report(
        Dictionary<(string Path, int Clients), List<double>> results, Dictionary<(string Path, int Clients), (int Calls, double Seconds)> counts,
        Dictionary<(string Path, int Clients), (List<double> Embed, List<double> Search)> split, TimeSpan elapsed)
    {
        Console.WriteLine();
        Console.WriteLine($"{"clients",8} {"path",8} {"searches",9} {"qps",8} {"p50 ms",8} {"p99 ms",8} {"sdk/direct p50",15} {"sdk/direct p99",15}");
        var ratios = new Dictionary<int, (double P50, double P99)>();
        var qps = new Dictionary<(string, int), double>();
        foreach (var clients in Concurrency)
        {
            foreach (var path in Paths)
            {
                var latencies = results[(path, clients)];
                latencies.Sort();
                var (calls, seconds) = counts[(path, clients)];
                qps[(path, clients)] = calls / seconds;
                var p50 = Percentile(latencies, 0.50);
                var p99 = Percentile(latencies, 0.99);
                var ratio = string.Empty;
                if (path == "sdk")
                {
                    var direct = results[("direct", clients)];
                    ratios[clients] = (p50 / Percentile(direct, 0.50), p99 / Percentile(direct, 0.99));
                    ratio = $"{ratios[clients].P50,15:F2} {ratios[clients].P99,15:F2}";
                }

                Console.WriteLine($"{clients,8} {path,8} {calls,9:N0} {qps[(path, clients)],8:F0} {p50,8:F2} {p99,8:F2} {ratio}");
            }
        }

        Console.WriteLine();
        Console.WriteLine("where the time goes (p50 ms): embed = the query embedding (SDK: SearchGrain → worker, query lane → back); search = the SQL k-NN; rest = the remainder (SDK: client ↔ gateway ↔ SearchGrain)");
        foreach (var clients in Concurrency)
        {
            foreach (var path in Paths)
            {
                var embed = Percentile(split[(path, clients)].Embed, 0.5);
                var search = Percentile(split[(path, clients)].Search, 0.5);
                Console.WriteLine($"{clients,8} clients {path,8}: embed {embed,6:F2}  search {search,6:F2}  rest {Percentile(results[(path, clients)], 0.5) - embed - search,6:F2}");
            }
        }

        var worst = ratios.Values.Max(r => r.P50);
        var ownPool = Concurrency.Max(c => Percentile(results[("sdk", c)], 0.5) / Percentile(results[("own-pool", c)], 0.5));
        Console.WriteLine($"sdk/own-pool p50: worst {ownPool:F2} (a direct path on a pool of its own, kept warm by it alone)");
        Console.WriteLine($"sdk/direct p50: worst {worst:F2} over 1, 8 and 32 clients (target <= 1.2: {(worst <= 1.2 ? "met" : "NOT met")})");
        Console.WriteLine($"total {elapsed.TotalSeconds:F0} s");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT search sdk_vs_direct_p50={worst:F3} qps_32={qps[("sdk", 32)]:F0} direct_qps_32={qps[("direct", 32)]:F0} " +
            $"sdk_vs_direct_p50_1={ratios[1].P50:F3} sdk_vs_direct_p50_8={ratios[8].P50:F3} sdk_vs_direct_p50_32={ratios[32].P50:F3} " +
            $"sdk_p50_ms_1={Percentile(results[("sdk", 1)], 0.5):F2} sdk_p99_ms_1={Percentile(results[("sdk", 1)], 0.99):F2} direct_p50_ms_1={Percentile(results[("direct", 1)], 0.5):F2} " +
            $"sdk_p99_ms_32={Percentile(results[("sdk", 32)], 0.99):F2} direct_p99_ms_32={Percentile(results[("direct", 32)], 0.99):F2} sdk_vs_own_pool_direct_p50={ownPool:F3}"));
    }

    // Ingests the corpus through the pipeline (v1 of collection "debian"), then builds the HNSW index.
    private static async Task<VersionTable> LoadAsync(IHost silo, BenchmarkDatabase database, IReadOnlyList<DebianCorpus.Package> corpus, EmbeddingModelFolder model, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var table = await BenchmarkIngest.IngestAsync(
            silo, database, "debian", "v1", model.Directory, corpus, p => $$"""{"section":{{System.Text.Json.JsonSerializer.Serialize(p.Section)}}}""", cancellationToken);
        var ingested = clock.Elapsed;
        await new HnswIndexBuilder(database.DataSource).BuildAsync(table, cancellationToken: cancellationToken);
        await using (var analyze = database.DataSource.CreateCommand($"VACUUM ANALYZE {table.QuotedTable}"))
        {
            await analyze.ExecuteNonQueryAsync(cancellationToken);
        }

        Console.WriteLine($"HNSW index built in {(clock.Elapsed - ingested).TotalSeconds:F0} s");
        return table;
    }

    // Both paths must do the same work: the same hits for the same queries.
    private static async Task CheckSameHitsAsync(
        EmbeddingSearchClient sdk, EmbeddingSession session, VectorSearch direct, VersionTable table, IReadOnlyList<string> queries, CancellationToken cancellationToken)
    {
        var same = 0;
        const int Checked = 50;
        foreach (var query in queries.Take(Checked))
        {
            var viaSdk = await sdk.SearchAsync("debian", query, K, cancellationToken: cancellationToken);
            var viaDirect = await direct.SearchAsync(table, new VectorSearchRequest(session.Embed([query], EmbeddingPurpose.Query)[0].Vector, K), cancellationToken);
            same += viaSdk.Hits.Select(h => h.Id).SequenceEqual(viaDirect.Select(h => h.Id)) ? 1 : 0;
        }

        Console.WriteLine($"same hits through the SDK and directly: {same}/{Checked} queries");
        if (same < Checked * 9 / 10)
        {
            throw new InvalidOperationException($"The SDK and the direct path disagree on {Checked - same} of {Checked} queries; they are not doing the same work.");
        }
    }

    private static async Task<(List<double> Latencies, double Seconds)> MeasureAsync(Func<string, Task<int>> search, IReadOnlyList<string> queries, int clients, TimeSpan window)
    {
        var next = -1;
        var clock = Stopwatch.StartNew();
        var perClient = await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            var latencies = new List<double>();
            while (clock.Elapsed < window)
            {
                var query = queries[(Interlocked.Increment(ref next) & int.MaxValue) % queries.Count];
                var start = Stopwatch.GetTimestamp();
                await search(query);
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }

            return latencies;
        })));
        return ([.. perClient.SelectMany(l => l)], clock.Elapsed.TotalSeconds);
    }

    private static double Percentile(List<double> sorted, double p)
    {
        if (sorted.Count == 0)
        {
            return double.NaN;
        }

        var ordered = sorted.Order().ToList();
        return ordered[Math.Min(ordered.Count - 1, (int)Math.Ceiling(p * ordered.Count) - 1)];
    }
}
