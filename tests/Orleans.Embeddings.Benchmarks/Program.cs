using Orleans.Embeddings.Benchmarks;
using Orleans.Embeddings.Benchmarks.Inference;
using Orleans.Embeddings.Benchmarks.Ingest;
using Orleans.Embeddings.Benchmarks.Rollout;
using Orleans.Embeddings.Benchmarks.Storage;
using Orleans.Embeddings.Benchmarks.Streams;

// One benchmark per name; each prints a table and ends with one line "RESULT <name> key=value ...".
var benchmarks = new Dictionary<string, Func<IBenchmark>>(StringComparer.Ordinal)
{
    ["inference"] = () => new InferenceBenchmark(),
    ["eval"] = () => new Orleans.Embeddings.Benchmarks.Evaluation.EvalBenchmark(),
    ["ingest"] = () => new IngestBenchmark(),
    ["rollout"] = () => new RolloutBenchmark(),
    ["search"] = () => new Orleans.Embeddings.Benchmarks.Search.SearchBenchmark(),
    ["storage"] = () => new StorageBenchmark(),
    ["streams"] = () => new StreamsBenchmark(),
};

if (args.Length != 1 || !benchmarks.TryGetValue(args[0], out var create))
{
    await Console.Error.WriteLineAsync($"usage: dotnet run -c Release --project tests/Orleans.Embeddings.Benchmarks -- <{string.Join('|', benchmarks.Keys)}>");
    return 2;
}

await create().RunAsync(CancellationToken.None);
return 0;
