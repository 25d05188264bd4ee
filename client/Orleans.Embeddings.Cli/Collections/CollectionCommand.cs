using System.CommandLine;
using System.Globalization;
using Orleans.Embeddings.Cli.Api;
using Orleans.Embeddings.Cli.Rollouts;

namespace Orleans.Embeddings.Cli.Collections;

/// <summary><c>embeddings collection show|set</c>: a collection's own settings, through a silo's operator API.</summary>
internal static class CollectionCommand
{
    public static Command Create()
    {
        var collectionCommand = new Command("collection", "Show or change a collection's settings.");
        collectionCommand.Subcommands.Add(Show());
        collectionCommand.Subcommands.Add(Set());
        return collectionCommand;
    }

    private static Command Show()
    {
        var (collection, api, token) = (SiloApi.CollectionOption(), SiloApi.ApiOption(), SiloApi.TokenOption());
        var command = new Command("show", "Show a collection's settings.") { collection, api, token };
        command.SetAction((result, ct) => RolloutCommand.CallAsync(result.GetValue(api)!, result.GetValue(token), async client =>
            Describe(await client.GetAsync<SettingsView>(result.GetValue(collection)!, "settings", ct))));
        return command;
    }

    private static Command Set()
    {
        var (collection, api, token) = (SiloApi.CollectionOption(), SiloApi.ApiOption(), SiloApi.TokenOption());
        var target = new Option<double?>("--target-recall")
        {
            Description = "The recall@10 (above 0, at most 1) the ef_search of each version's HNSW index is tuned for; versions take it when their index is next measured (models index).",
        };
        var reset = new Option<bool>("--default-target-recall") { Description = "Forget the collection's target recall: use the silo's default (Rollouts:TargetRecall, 0.95)." };
        var command = new Command("set", "Change a collection's settings.") { target, reset, collection, api, token };
        command.SetAction((result, ct) => RolloutCommand.CallAsync(result.GetValue(api)!, result.GetValue(token), async client =>
        {
            var (value, toDefault) = (result.GetValue(target), result.GetValue(reset));
            if (value is null == !toDefault)
            {
                throw new InvalidOperationException("Give either --target-recall <0-1> or --default-target-recall.");
            }

            return Describe(await client.PostAsync<SettingsView>(result.GetValue(collection)!, "settings", new { targetRecall = value }, ct));
        }));
        return command;
    }

    private static string Describe(SettingsView settings) =>
        $"{settings.Collection}: target recall@10 {(settings.TargetRecall is { } t ? t.ToString("0.###", CultureInfo.InvariantCulture) : "default (the silo's Rollouts:TargetRecall)")}";

    private sealed record SettingsView(string Collection, double? TargetRecall);
}
