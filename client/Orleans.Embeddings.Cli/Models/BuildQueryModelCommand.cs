using System.CommandLine;
using Orleans.Embeddings.Inference.Builders;
using Orleans.Embeddings.Inference.Models;
using Spectre.Console;

namespace Orleans.Embeddings.Cli.Models;

/// <summary><c>embeddings models build-query-model --document-model &lt;dir&gt; --corpus &lt;file&gt; --out &lt;dir&gt; [--max-texts N] [--seed N]</c></summary>
internal static class BuildQueryModelCommand
{
    public static Command Create()
    {
        var documentModel = new Option<DirectoryInfo>("--document-model") { Description = "The document model's folder (WordPiece vocab.txt); the query model embeds into its vector space.", Required = true };
        var corpus = new Option<FileInfo>("--corpus") { Description = "The collection's corpus: JSON lines (their \"content\") or plain text, one document per line.", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Folder to write the query model into.", Required = true };
        var maxTexts = new Option<int>("--max-texts") { Description = "Most corpus texts to cut query-like spans from (a seeded uniform sample).", DefaultValueFactory = _ => QueryModelDistiller.DefaultMaxTexts };
        var epochs = new Option<int>("--epochs") { Description = "Passes of gradient descent on the token vectors after the least-squares fit (0: the fit alone).", DefaultValueFactory = _ => QueryModelDistiller.DefaultRefinementEpochs };
        var seed = new Option<int>("--seed") { Description = "Seed of the sample, the spans and the held-out split.", DefaultValueFactory = _ => 1 };
        var name = new Option<string?>("--name") { Description = "Model name written into embedding.json (default: the folder name)." };

        var command = new Command("build-query-model", "Distil a static query model from a document model on a corpus: same vocabulary, same vector space, a token lookup instead of an encoder.")
        {
            documentModel, corpus, output, maxTexts, epochs, seed, name,
        };
        command.SetAction(result =>
        {
            var documentDirectory = result.GetValue(documentModel)!;
            if (!documentDirectory.Exists)
            {
                return Fail($"The document model folder {documentDirectory.FullName} does not exist.");
            }

            var corpusFile = result.GetValue(corpus)!;
            if (!corpusFile.Exists)
            {
                return Fail($"The corpus file {corpusFile.FullName} does not exist: pass --corpus, or build the Debian corpus with `bash infra/corpus/debian-corpus.sh`.");
            }

            if (result.GetValue(maxTexts) < 1)
            {
                return Fail($"--max-texts must be at least 1 (was {result.GetValue(maxTexts)}).");
            }

            if (result.GetValue(epochs) < 0)
            {
                return Fail($"--epochs must be 0 or more (was {result.GetValue(epochs)}).");
            }

            var outputDirectory = result.GetValue(output)!.FullName;
            var distiller = new QueryModelDistiller { MaxTexts = result.GetValue(maxTexts), RefinementEpochs = result.GetValue(epochs), Seed = result.GetValue(seed) };
            try
            {
                var folder = EmbeddingModelFolder.Load(documentDirectory.FullName);
                QueryModelDistillation? distillation = null;
                AnsiConsole.Progress().Start(progress =>
                {
                    var tasks = new Dictionary<QueryModelDistillationStage, ProgressTask>
                    {
                        [QueryModelDistillationStage.TokenVectors] = progress.AddTask("token vectors"),
                        [QueryModelDistillationStage.QueryTargets] = progress.AddTask("query targets"),
                        [QueryModelDistillationStage.LinearFit] = progress.AddTask("least-squares fit"),
                        [QueryModelDistillationStage.Refinement] = progress.AddTask("refinement"),
                    };
                    distillation = distiller.Distill(
                        folder,
                        CorpusReader.ReadTexts(corpusFile.FullName),
                        outputDirectory,
                        result.GetValue(name) ?? Path.GetFileName(outputDirectory),
                        new StageProgress(tasks));
                    foreach (var task in tasks.Values)
                    {
                        task.Value = task.MaxValue;
                    }
                });

                Print(distillation!, outputDirectory);
                return 0;
            }
            catch (ModelFolderException ex)
            {
                return Fail(ex.Message);
            }
            catch (ArgumentException ex)
            {
                // The message without ArgumentException's " (Parameter 'corpus')": the user passed a file, not a parameter.
                return Fail(ex.ParamName is null ? ex.Message : ex.Message.Replace($" (Parameter '{ex.ParamName}')", string.Empty, StringComparison.Ordinal));
            }
            catch (InvalidDataException ex)
            {
                return Fail(ex.Message);
            }
        });
        return command;
    }

    private static void Print(QueryModelDistillation d, string outputDirectory)
    {
        AnsiConsole.MarkupLineInterpolated(
            $"Wrote [green]{d.Folder.Name}[/] ({d.Folder.Dimensions} dimensions, {File.ReadLines(d.Folder.TokenizerPath).Count():N0} tokens) to {outputDirectory} in {d.Elapsed.TotalSeconds:F1} s ({d.DocumentModelTime.TotalSeconds:F1} s in the document model).");
        AnsiConsole.MarkupLineInterpolated(
            $"{d.TextsUsed:N0} texts: {d.TrainingQueries:N0} query-like spans fitted, {d.HeldOutQueries:N0} of held-out texts measured.");
        AnsiConsole.MarkupLineInterpolated(
            $"Held-out mean cosine to the document model's query vectors (two different spans: {d.HeldOutCosineBetweenSpans:F3}): {d.Before.MeanCosine:F3} (tokens embedded alone) → {d.AfterLinearFit.MeanCosine:F3} (least-squares fit) → [green]{d.After.MeanCosine:F3}[/] (refined).");
        AnsiConsole.MarkupLineInterpolated(
            $"Held-out spans nearest to their own document-model vector: {d.Before.NearestAgreement:P1} → {d.AfterLinearFit.NearestAgreement:P1} → [green]{d.After.NearestAgreement:P1}[/].");
    }

    private static int Fail(string message)
    {
        AnsiConsole.MarkupLineInterpolated($"[red]{message}[/]");
        return 1;
    }

    private sealed class StageProgress(Dictionary<QueryModelDistillationStage, ProgressTask> tasks) : IProgress<QueryModelDistillationProgress>
    {
        public void Report(QueryModelDistillationProgress value)
        {
            var task = tasks[value.Stage];
            task.MaxValue = Math.Max(1, value.Total);
            task.Value = value.Completed;
        }
    }
}
