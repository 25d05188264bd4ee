using Orleans.Embeddings.Inference.Models;

namespace Orleans.Embeddings.Collections;

/// <summary>The check every model passes before it is registered: a probe text's embedding has the declared shape and is usable.</summary>
public static class ModelProbe
{
    /// <summary>The text embedded to check a model.</summary>
    public const string Text = "Orleans embeddings probe: the quick brown fox jumps over the lazy dog.";

    /// <summary>Null when <paramref name="vector"/> is a usable embedding of <paramref name="folder"/>'s model, else what is wrong with it.</summary>
    public static string? Check(EmbeddingModelFolder folder, float[] vector) => Check(folder, vector, folder?.Dimensions ?? 0);

    /// <summary>
    /// Null when <paramref name="vector"/> is a usable embedding of <paramref name="folder"/>'s model stored at
    /// <paramref name="dimensions"/> (its length, or a Matryoshka length it is truncated to), else what is wrong with it.
    /// </summary>
    public static string? Check(EmbeddingModelFolder folder, float[] vector, int dimensions)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(vector);
        if (vector.Length != dimensions)
        {
            return dimensions == folder.Dimensions
                ? $"the model in {folder.Directory} declares {folder.Dimensions} dimensions but produced {vector.Length}"
                : $"the version stores {dimensions} dimensions of the model in {folder.Directory} but its workers produced {vector.Length}";
        }

        if (vector.Any(v => !float.IsFinite(v)))
        {
            return $"the model in {folder.Directory} produced non-finite values for the probe text";
        }

        var norm = Math.Sqrt(vector.Sum(v => (double)v * v));
        if (norm < 1e-6)
        {
            return $"the model in {folder.Directory} produced a zero vector for the probe text";
        }

        if (folder.Normalize && Math.Abs(norm - 1) > 1e-3)
        {
            return $"the model in {folder.Directory} declares normalised output but the probe's norm is {norm:F4}";
        }

        return null;
    }
}
