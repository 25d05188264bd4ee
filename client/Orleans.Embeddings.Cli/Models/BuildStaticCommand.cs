using System.CommandLine;
using System.Diagnostics;
using Orleans.Embeddings.Inference.Builders;
using Spectre.Console;

namespace Orleans.Embeddings.Cli.Models;

/// <summary><c>embeddings models build-static --corpus &lt;file&gt; --dims 256 --out &lt;dir&gt;</c></summary>
internal static class BuildStaticCommand
{
    public static Command Create()
    {
        var corpus = new Option<FileInfo>("--corpus") { Description = "Corpus: JSON lines (their \"content\") or plain text, one document per line.", Required = true };
        var dims = new Option<int>("--dims") { Description = "Vector length.", DefaultValueFactory = _ => 256 };
        var output = new Option<DirectoryInfo>("--out") { Description = "Folder to write the model into.", Required = true };
        var noIdf = new Option<bool>("--no-idf") { Description = "Weigh every token the same instead of by inverse document frequency." };
        var maxWords = new Option<int>("--max-words") { Description = "Most whole words in the vocabulary.", DefaultValueFactory = _ => 30_000 };
        var seed = new Option<int>("--seed") { Description = "Seed of the random projection.", DefaultValueFactory = _ => 1 };
        var name = new Option<string?>("--name") { Description = "Model name written into embedding.json (default: the folder name)." };

        var command = new Command("build-static", "Build a static embedding model (WordPiece vocabulary + seeded random projection, IDF-weighted) from a corpus.")
        {
            corpus, dims, output, noIdf, maxWords, seed, name,
        };
        command.SetAction(result =>
        {
            var corpusFile = result.GetValue(corpus)!;
            if (!corpusFile.Exists)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]The corpus file {corpusFile.FullName} does not exist.[/]");
                return 2;
            }

            var dimensions = result.GetValue(dims);
            if (dimensions is < 1 or > 4096)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]--dims must be between 1 and 4096 (was {dimensions}).[/]");
                return 2;
            }

            var builder = new StaticEmbeddingModelBuilder
            {
                Dimensions = dimensions,
                IdfWeighting = !result.GetValue(noIdf),
                MaxWords = result.GetValue(maxWords),
                Seed = result.GetValue(seed),
            };
            var outputDirectory = result.GetValue(output)!.FullName;
            var stopwatch = Stopwatch.StartNew();
            var folder = AnsiConsole.Status().Start("Building the static model…", _ =>
                builder.Build(CorpusReader.ReadTexts(corpusFile.FullName), outputDirectory, result.GetValue(name) ?? Path.GetFileName(outputDirectory)));
            AnsiConsole.MarkupLineInterpolated(
                $"Wrote [green]{folder.Name}[/] ({folder.Dimensions} dimensions, {(builder.IdfWeighting ? "IDF-weighted" : "unweighted")}, {File.ReadLines(folder.TokenizerPath).Count():N0} tokens) to {outputDirectory} in {stopwatch.Elapsed.TotalSeconds:F1} s.");
            return 0;
        });
        return command;
    }
}
