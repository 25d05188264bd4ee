using Orleans.Embeddings.Benchmarks;
using Orleans.Embeddings.Benchmarks.Inference;
using Orleans.Embeddings.Benchmarks.Ingest;
using Orleans.Embeddings.Benchmarks.Rollout;
using Orleans.Embeddings.Benchmarks.Storage;
using Orleans.Embeddings.Benchmarks.Streams;

// One benchmark per name; each prints a table and ends with one line "RESULT <name> key=value ...".
// The rollout benchmark takes an optional scenario (encoder or static) to run that one alone while tuning.
var benchmarks = new Dictionary<string, Func<string?, IBenchmark?>>(StringComparer.Ordinal)
{
    ["inference"] = option => option is null ? new InferenceBenchmark() : null,
    ["compact"] = option => option is null or "minilm" or "arctic-xs" or "seeded" ? new Orleans.Embeddings.Benchmarks.Compact.CompactBenchmark(option) : null,
    ["eval"] = option => option is null ? new Orleans.Embeddings.Benchmarks.Evaluation.EvalBenchmark() : null,
    ["ingest"] = option => option is null ? new IngestBenchmark() : null,
    ["rollout"] = option => option is null or "minilm" or "encoder" or "static" ? new RolloutBenchmark(option) : null,
    ["search"] = option => option is null ? new Orleans.Embeddings.Benchmarks.Search.SearchBenchmark() : null,
    ["storage"] = option => option is null or "static" ? new StorageBenchmark(option) : null,
    ["streams"] = option => option is null ? new StreamsBenchmark() : null,
};

if (args.Length is < 1 or > 2 || !benchmarks.TryGetValue(args[0], out var create) || create(args.ElementAtOrDefault(1)) is not { } benchmark)
{
    await Console.Error.WriteLineAsync($"usage: dotnet run -c Release --project tests/Orleans.Embeddings.Benchmarks -- <{string.Join('|', benchmarks.Keys)}> (compact [minilm|arctic-xs|seeded], rollout [minilm|encoder|static], storage [static])");
    return 2;
}

await benchmark.RunAsync(CancellationToken.None);
return 0;
