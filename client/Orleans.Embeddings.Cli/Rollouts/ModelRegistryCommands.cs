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
        var command = new Command("register", "Register a model version: every silo loads it and embeds a probe text first.") { version, folder, collection, api, token };
        command.SetAction((result, ct) => RolloutCommand.CallAsync(result.GetValue(api)!, result.GetValue(token), async client =>
        {
            var registered = await client.PostAsync<ModelVersionStatus>(
                result.GetValue(collection)!, "models", new { version = result.GetValue(version), modelPath = result.GetValue(folder)!.FullName }, ct);
            return $"registered {registered.Version}: {registered.Dimensions} dimensions, {registered.State}, model {registered.ModelPath}";
        }));
        return command;
    }

    public static Command List()
    {
        var (collection, api, token) = (SiloApi.CollectionOption(), SiloApi.ApiOption(), SiloApi.TokenOption());
        var command = new Command("list", "List a collection's model versions, their state and traffic.") { collection, api, token };
        command.SetAction((result, ct) => RolloutCommand.CallAsync(result.GetValue(api)!, result.GetValue(token), async client =>
        {
            var versions = await client.GetAsync<ImmutableArray<ModelVersionStatus>>(result.GetValue(collection)!, "models", ct);
            var table = new Table().AddColumns("version", "state", "traffic", "written", "dims", "model");
            foreach (var v in versions)
            {
                table.AddRow(Markup.Escape(v.Version), v.State.ToString(), $"{v.TrafficPercent}%", v.WriteTarget ? "yes" : "no", v.Dimensions.ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(v.ModelPath ?? ""));
            }

            AnsiConsole.Write(table);
            return (object?)null;
        }));
        return command;
    }
}
