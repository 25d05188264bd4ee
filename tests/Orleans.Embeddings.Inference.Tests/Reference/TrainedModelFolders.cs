using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Testing;

namespace Orleans.Embeddings.Inference.Tests.Reference;

/// <summary>
/// The trained model folders (all-MiniLM-L6-v2, snowflake-arctic-embed-xs) as <c>embeddings models fetch</c> writes them
/// (<see cref="TrainedModels"/>). Transformers.js reads its model from <c>onnx/model.onnx</c>, so
/// <see cref="ForTransformersJs"/> gives it a copy laid out so, with the folder's own Hugging Face files.
/// </summary>
internal static class TrainedModelFolders
{
    private static readonly string[] s_huggingFaceFiles = ["config.json", "tokenizer.json", "tokenizer_config.json"];

    public static EmbeddingModelFolder MiniLm() => TrainedModels.MiniLmAsync().GetAwaiter().GetResult();

    public static EmbeddingModelFolder ArcticXs() => TrainedModels.ArcticXsAsync().GetAwaiter().GetResult();

    /// <summary>A folder under <paramref name="parent"/> with the graph linked at <c>onnx/model.onnx</c> and the fetch's Hugging Face files copied.</summary>
    public static string ForTransformersJs(EmbeddingModelFolder folder, string parent)
    {
        var directory = Path.Combine(parent, Path.GetFileName(Path.TrimEndingDirectorySeparator(folder.Directory)));
        Directory.CreateDirectory(Path.Combine(directory, "onnx"));
        File.CreateSymbolicLink(Path.Combine(directory, "onnx", "model.onnx"), Path.GetFullPath(folder.ModelPath));
        foreach (var name in s_huggingFaceFiles)
        {
            File.Copy(Path.Combine(folder.Directory, name), Path.Combine(directory, name));
        }

        return directory;
    }
}
