using System.CommandLine;
using Orleans.Embeddings.Cli.Ingest;
using Orleans.Embeddings.Cli.Models;

var root = new RootCommand("Orleans.Embeddings: a streaming embedding indexer on Orleans and pgvector.");
root.Subcommands.Add(ModelsCommand.Create());
root.Subcommands.Add(IngestCommand.Create());
root.Subcommands.Add(Orleans.Embeddings.Cli.Collections.CollectionCommand.Create());
root.Subcommands.Add(Orleans.Embeddings.Cli.Rollouts.RolloutCommand.Create());
root.Subcommands.Add(Orleans.Embeddings.Cli.Search.SearchCommand.Create());
root.Subcommands.Add(Orleans.Embeddings.Cli.Evaluation.EvalCommand.Create());
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
