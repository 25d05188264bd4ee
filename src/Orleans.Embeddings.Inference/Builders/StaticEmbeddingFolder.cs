using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Onnx;

namespace Orleans.Embeddings.Inference.Builders;

/// <summary>
/// Writes the model part of a static (token-table) embedding folder: the lookup graph, config.json, the pooling
/// config and the manifest (mean pooling, normalised, output <c>token_embeddings</c>). The tokenizer files are the
/// caller's: a corpus-built vocabulary or another model's, copied.
/// </summary>
internal static class StaticEmbeddingFolder
{
    /// <summary>The graph output holding one vector per token, padding zeroed.</summary>
    public const string OutputName = "token_embeddings";

    /// <summary>Writes model.onnx (<paramref name="table"/> is <paramref name="vocabularySize"/> rows of <paramref name="dimensions"/>) and the JSON files.</summary>
    public static void WriteModel(string directory, ReadOnlySpan<float> table, int vocabularySize, int dimensions, string name, int maxTokens)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, "model.onnx"), BuildGraph(table, vocabularySize, dimensions));
        ModelFolderFiles.WriteJson(directory, "config.json", new { model_type = "static-embedding", hidden_size = dimensions, vocab_size = vocabularySize });
        Directory.CreateDirectory(Path.Combine(directory, "1_Pooling"));
        ModelFolderFiles.WriteJson(directory, Path.Combine("1_Pooling", "config.json"), new { word_embedding_dimension = dimensions, pooling_mode_mean_tokens = true, pooling_mode_cls_token = false });
        ModelFolderFiles.WriteJson(directory, EmbeddingModelManifest.FileName, new EmbeddingModelManifest
        {
            Name = name,
            Dimensions = dimensions,
            Pooling = "mean",
            Normalize = true,
            MaxTokens = maxTokens,
            OutputName = OutputName,
        });
    }

    // token_embeddings[b, t, :] = table[input_ids[b, t], :] * attention_mask[b, t]
    private static byte[] BuildGraph(ReadOnlySpan<float> table, int vocabularySize, int dimensions) =>
        new OnnxGraphBuilder("static_embedding")
            .AddInput("input_ids", OnnxElementType.Int64, "batch", "tokens")
            .AddInput("attention_mask", OnnxElementType.Int64, "batch", "tokens")
            .AddOutput(OutputName, OnnxElementType.Float, "batch", "tokens", (long)dimensions)
            .AddInitializer("embedding_table", table, vocabularySize, dimensions)
            .AddInitializer("last_axis", (ReadOnlySpan<long>)[2L], 1)
            .AddNode("Gather", ["embedding_table", "input_ids"], ["gathered"], new Dictionary<string, object> { ["axis"] = 0L })
            .AddNode("Cast", ["attention_mask"], ["mask_float"], new Dictionary<string, object> { ["to"] = (long)OnnxElementType.Float })
            .AddNode("Unsqueeze", ["mask_float", "last_axis"], ["mask_3d"])
            .AddNode("Mul", ["gathered", "mask_3d"], [OutputName])
            .Build();
}
