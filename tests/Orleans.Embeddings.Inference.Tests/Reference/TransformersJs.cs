using System.Text.Json;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Inference.Tests.Reference;

/// <summary>
/// Hugging Face's Transformers.js (pinned in Reference/package.json, installed by infra/test.sh with
/// <c>npm ci --ignore-scripts</c>) run by Debian's Node over reference.mjs: the reference tokenizer and embeddings.
/// </summary>
internal static class TransformersJs
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(20);

    /// <summary>The folder of package.json, reference.mjs and node_modules.</summary>
    public static string Directory => Path.Combine(RepositoryPaths.Root, "tests", "Orleans.Embeddings.Inference.Tests", "Reference");

    /// <summary>Fails (CI) or skips the test when Node or the installed packages are missing.</summary>
    public static void Require()
    {
        if (!File.Exists(Node))
        {
            TestDependency.Missing($"Node is not installed at {Node}: apt-get install -y nodejs npm (infra/test.sh does, as root).");
        }

        if (!File.Exists(Path.Combine(Directory, "node_modules", "@huggingface", "transformers", "package.json")))
        {
            TestDependency.Missing($"Transformers.js is not installed in {Directory}: run 'npm ci --ignore-scripts' there (infra/test.sh does).");
        }
    }

    /// <summary>
    /// The ids Transformers.js' tokenizer gives each text, [CLS] and [SEP] included, truncated to <paramref name="maxTokens"/>,
    /// and how many ids the text has without truncation.
    /// </summary>
    public static Task<IReadOnlyList<ReferenceTokens>> TokenizeAsync(string folder, int maxTokens, IReadOnlyList<string> texts, CancellationToken cancellationToken) =>
        RunAsync<ReferenceTokens>(["tokenize", folder, maxTokens.ToString(System.Globalization.CultureInfo.InvariantCulture)], texts, cancellationToken);

    /// <summary>Transformers.js' feature-extraction vectors (pooled, normalised) of each text.</summary>
    public static Task<IReadOnlyList<float[]>> EmbedAsync(string folder, int maxTokens, string pooling, IReadOnlyList<string> texts, CancellationToken cancellationToken) =>
        RunAsync<float[]>(["embed", folder, maxTokens.ToString(System.Globalization.CultureInfo.InvariantCulture), pooling], texts, cancellationToken);

    /// <summary>One text's ids from Transformers.js.</summary>
    public sealed record ReferenceTokens(
        [property: System.Text.Json.Serialization.JsonPropertyName("ids")] int[] Ids,
        [property: System.Text.Json.Serialization.JsonPropertyName("untruncated")] int Untruncated);

    private static string Node => Environment.GetEnvironmentVariable("EMBEDDINGS_NODE") ?? "/usr/bin/node";

    private static async Task<IReadOnlyList<T>> RunAsync<T>(string[] arguments, IReadOnlyList<string> texts, CancellationToken cancellationToken)
    {
        var work = System.IO.Directory.CreateTempSubdirectory("oe-reference-").FullName;
        try
        {
            var input = Path.Combine(work, "input.jsonl");
            var output = Path.Combine(work, "output.jsonl");
            await File.WriteAllLinesAsync(input, texts.Select(t => JsonSerializer.Serialize(t)), cancellationToken);
            await ChildProcess.RunAsync(Node, [Path.Combine(Directory, "reference.mjs"), .. arguments, input, output], s_timeout, cancellationToken);
            var results = File.ReadLines(output).Select(l => JsonSerializer.Deserialize<T>(l)!).ToList();
            Assert.Equal(texts.Count, results.Count);
            return results;
        }
        finally
        {
            System.IO.Directory.Delete(work, recursive: true);
        }
    }
}
