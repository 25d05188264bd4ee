using Orleans.Embeddings.Cli.Api;
using System.Collections.Immutable;
using System.CommandLine;
using Orleans.Embeddings.Rollouts;
using Spectre.Console;

namespace Orleans.Embeddings.Cli.Rollouts;

/// <summary><c>embeddings models register|list</c>: the model versions of a collection, through a silo's operator API.</summary>
internal static class ModelRegistryCommands
{
    public static Command Register()
    {
        var (collection, api, token) = (SiloApi.CollectionOption(), SiloApi.ApiOption(), SiloApi.TokenOption());
        var version = new Argument<string>("version") { Description = "The new version's name (a-z, 0-9, - and _)." };
        var folder = new Argument<DirectoryInfo>("model-folder") { Description = "The model folder (model.onnx, tokenizer, embedding.json), at a path every silo can read." };
        var representation = new Option<string>("--representation", "-r")
        {
            Description = "How vectors are stored: vector (fp32), halfvec (fp16), or binary (an index on the sign bits, candidates reranked exactly on halfvec).",
            DefaultValueFactory = _ => "vector",
        };
        var dimensions = new Option<int?>("--dimensions") { Description = "A Matryoshka length to truncate vectors to (one the model's embedding.json lists)." };
        var queryModel = new Option<DirectoryInfo?>("--query-model") { Description = "A separate, smaller query model folder whose vectors live in the document model's space (see models build-query-model)." };
        var oversample = new Option<int?>("--rerank-oversample") { Description = "binary only: candidates per hit reranked exactly (1-100, default 20)." };
        var bits = new Option<int?>("--binary-bits") { Description = "binary only: index bits per dimension, 1 (signs) or 2 (a thermometer code: better candidates, twice the index bits)." };
        var command = new Command("register", "Register a model version: every silo loads it and embeds a probe text first.")
        {
            version, folder, representation, dimensions, queryModel, oversample, bits, collection, api, token,
        };
        command.SetAction((result, ct) => RolloutCommand.CallAsync(result.GetValue(api)!, result.GetValue(token), async client =>
        {
            var registered = await client.PostAsync<ModelVersionStatus>(
                result.GetValue(collection)!,
                "models",
                new
                {
                    version = result.GetValue(version),
                    modelPath = result.GetValue(folder)!.FullName,
                    representation = result.GetValue(representation),
                    dimensions = result.GetValue(dimensions),
                    queryModelPath = result.GetValue(queryModel)?.FullName,
                    rerankOversample = result.GetValue(oversample),
                    binaryBits = result.GetValue(bits),
                },
                ct);
            return $"registered {registered.Version}: {registered.Representation ?? $"{registered.Dimensions} dimensions"}, {registered.State}, model {registered.ModelPath}" +
                (registered.QueryModelPath is { } q ? $", query model {q}" : string.Empty) +
                (registered.TokenizerRevision is { } t ? $", tokenizer {t}" : string.Empty);
        }));
        return command;
    }

    public static Command Index()
    {
        var (collection, api, token) = (SiloApi.CollectionOption(), SiloApi.ApiOption(), SiloApi.TokenOption());
        var version = new Argument<string>("version") { Description = "The version whose HNSW index to build, or whose ef_search to measure again." };
        var wait = new Option<bool>("--wait") { Description = "Wait until the index is built and its ef_search measured." };
        var command = new Command(
            "index",
            "Build a version's HNSW index (a collection's first version has none: its searches are exact scans until then) and measure the ef_search " +
            "that reaches the collection's target recall on it; on a version whose index exists, measure its ef_search again.")
        {
            version, wait, collection, api, token,
        };
        command.SetAction((result, ct) => RolloutCommand.CallAsync(result.GetValue(api)!, result.GetValue(token), async client =>
        {
            var name = result.GetValue(collection)!;
            var state = await client.PostAsync<IndexStatusView>(name, "index", new { version = result.GetValue(version) }, ct);
            while (result.GetValue(wait) && state.State is "Building" or "Tuning")
            {
                await Task.Delay(1000, ct);
                state = await client.GetAsync<IndexStatusView>(name, $"index?version={Uri.EscapeDataString(result.GetValue(version)!)}", ct);
            }

            return state.State == "Failed"
                ? throw new InvalidOperationException($"building the index of {state.Version} failed: {state.Error}")
                : $"{state.Version}: index {state.State}" + (state.EfSearch is { } tuning ? $", {tuning}" : "");
        }));
        return command;
    }

    private sealed record IndexStatusView(string Version, string State, string? Error, EfSearchTuningStatus? EfSearch);

    public static Command List()
    {
        var (collection, api, token) = (SiloApi.CollectionOption(), SiloApi.ApiOption(), SiloApi.TokenOption());
        var command = new Command("list", "List a collection's model versions, their state and traffic.") { collection, api, token };
        command.SetAction((result, ct) => RolloutCommand.CallAsync(result.GetValue(api)!, result.GetValue(token), async client =>
        {
            var versions = await client.GetAsync<ImmutableArray<ModelVersionStatus>>(result.GetValue(collection)!, "models", ct);
            var table = new Table().AddColumns("version", "state", "traffic", "written", "representation", "model", "query model", "tokenizer");
            foreach (var v in versions)
            {
                table.AddRow(
                    Markup.Escape(v.Version), v.State.ToString(), $"{v.TrafficPercent}%", v.WriteTarget ? "yes" : "no",
                    Markup.Escape(v.Representation ?? v.Dimensions.ToString(System.Globalization.CultureInfo.InvariantCulture)), Markup.Escape(v.ModelPath ?? ""), Markup.Escape(v.QueryModelPath ?? "-"),
                    Markup.Escape(v.TokenizerRevision ?? "-"));
            }

            AnsiConsole.Write(table);
            RolloutCommand.PrintTunings(versions);
            return (object?)null;
        }));
        return command;
    }
}
