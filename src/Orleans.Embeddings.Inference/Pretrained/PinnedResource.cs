namespace Orleans.Embeddings.Inference.Pretrained;

/// <summary>A manifest resource of a package's assembly, with the length and SHA-256 (lower-case hex) it must have.</summary>
/// <param name="ResourceName">The manifest resource's name.</param>
/// <param name="Length">Its length in bytes.</param>
/// <param name="Sha256">Its SHA-256, lower-case hex.</param>
public sealed record PinnedResource(string ResourceName, long Length, string Sha256);
