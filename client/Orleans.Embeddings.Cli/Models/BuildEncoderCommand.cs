using System.CommandLine;
using System.Diagnostics;
using Orleans.Embeddings.Inference.Builders;
using Spectre.Console;

namespace Orleans.Embeddings.Cli.Models;

/// <summary><c>embeddings models build-encoder --preset minilm-l6 --out &lt;dir&gt; [--corpus &lt;file&gt;]</c></summary>
internal static class BuildEncoderCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "Shape: tiny (tests) or minilm-l6 (all-MiniLM-L6-v2's shape).", DefaultValueFactory = _ => "minilm-l6" };
        var output = new Option<DirectoryInfo>("--out") { Description = "Folder to write the model into.", Required = true };
        var corpus = new Option<FileInfo?>("--corpus") { Description = "Corpus for the vocabulary (default: the Debian corpus of infra/corpus/debian-corpus.sh)." };
        var seed = new Option<int>("--seed") { Description = "Seed of the weights.", DefaultValueFactory = _ => 1 };
        var lexical = new Option<float>("--lexical-scale")
        {
            Description = "Scale of the word embeddings: above 1 (e.g. 20) the pooled output keeps a lexical signal, so searches mean something; 1: plain seeded weights.",
            DefaultValueFactory = _ => 1,
        };
        var maxTokens = new Option<int?>("--max-tokens") { Description = "Token limit (position table size; the preset's by default, 512 for minilm-l6)." };

        var command = new Command("build-encoder", "Build a BERT-architecture encoder with seeded random weights (compute-realistic, not trained).")
        {
            preset, output, corpus, seed, lexical, maxTokens,
        };
        command.SetAction(result =>
        {
            EncoderConfiguration configuration;
            try
            {
                configuration = EncoderConfiguration.FromPreset(result.GetValue(preset)!);
                if (result.GetValue(maxTokens) is { } limit)
                {
                    configuration = configuration with { MaxPositions = limit };
                    configuration.Validate();
                }

                if (result.GetValue(lexical) <= 0)
                {
                    throw new ArgumentException($"--lexical-scale must be above 0 (was {result.GetValue(lexical)}).");
                }
            }
            catch (ArgumentException ex)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{ex.Message}[/]");
                return 2;
            }

            var corpusFile = result.GetValue(corpus) ?? new FileInfo(DefaultCorpusPath());
            if (!corpusFile.Exists)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]The corpus file {corpusFile.FullName} does not exist: pass --corpus, or build the Debian corpus with `bash infra/corpus/debian-corpus.sh`.[/]");
                return 2;
            }

            var outputDirectory = result.GetValue(output)!.FullName;
            var stopwatch = Stopwatch.StartNew();
            var (folder, _) = AnsiConsole.Status().Start($"Building the {result.GetValue(preset)} encoder…", _ =>
                new EncoderModelBuilder { Configuration = configuration, Seed = result.GetValue(seed), LexicalScale = result.GetValue(lexical) }
                    .Build(CorpusReader.ReadTexts(corpusFile.FullName), outputDirectory, Path.GetFileName(outputDirectory)));
            AnsiConsole.MarkupLineInterpolated(
                $"Wrote [green]{folder.Name}[/] ({configuration.Layers} layers, hidden {configuration.Hidden}, {configuration.Heads} heads, FFN {configuration.Intermediate}, {File.ReadLines(folder.TokenizerPath).Count():N0} tokens) to {outputDirectory} in {stopwatch.Elapsed.TotalSeconds:F1} s.");
            return 0;
        });
        return command;
    }

    /// <summary>Where infra/corpus/debian-corpus.sh writes by default.</summary>
    internal static string DefaultCorpusPath()
    {
        var home = Environment.GetEnvironmentVariable("EMBEDDINGS_DATA_HOME")
            ?? (Environment.UserName == "root"
                ? "/var/lib/orleans-embeddings"
                : Path.Combine(Environment.GetEnvironmentVariable("XDG_DATA_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share"), "orleans-embeddings"));
        return Path.Combine(home, "corpus", "debian.jsonl");
    }
}
