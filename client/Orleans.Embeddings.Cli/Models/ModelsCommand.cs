using System.CommandLine;

namespace Orleans.Embeddings.Cli.Models;

/// <summary><c>embeddings models …</c>: build and inspect embedding models.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var models = new Command("models", "Build and inspect embedding models.");
        models.Subcommands.Add(FetchCommand.Create());
        models.Subcommands.Add(BuildStaticCommand.Create());
        models.Subcommands.Add(BuildEncoderCommand.Create());
        models.Subcommands.Add(BuildQueryModelCommand.Create());
        models.Subcommands.Add(Rollouts.ModelRegistryCommands.Register());
        models.Subcommands.Add(Rollouts.ModelRegistryCommands.List());
        models.Subcommands.Add(Rollouts.ModelRegistryCommands.Index());
        return models;
    }
}
