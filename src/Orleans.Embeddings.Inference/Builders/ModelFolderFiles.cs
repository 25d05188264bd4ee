using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orleans.Embeddings.Inference.Builders;

/// <summary>Writes the JSON files of a model folder the way sentence-transformers exports them (indented, nulls left out).</summary>
internal static class ModelFolderFiles
{
    private static readonly JsonSerializerOptions s_options = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public static void WriteJson(string directory, string relativePath, object value) =>
        File.WriteAllText(Path.Combine(directory, relativePath), JsonSerializer.Serialize(value, s_options));
}
