using System.Text.Json.Serialization;

namespace Orleans.Embeddings.Inference.Models;

/// <summary>
/// What a model folder's optional <c>embedding.json</c> says; every property overrides what the
/// sentence-transformers files imply. Null means "not stated here".
/// </summary>
public sealed record EmbeddingModelManifest
{
    /// <summary>The file name of the manifest in a model folder.</summary>
    public const string FileName = "embedding.json";

    /// <summary>A display name.</summary>
    [JsonPropertyName("name")]
    public string? Name { get; init; }

    /// <summary>The vector length the graph produces.</summary>
    [JsonPropertyName("dimensions")]
    public int? Dimensions { get; init; }

    /// <summary><c>mean</c>, <c>cls</c> or <c>none</c>.</summary>
    [JsonPropertyName("pooling")]
    public string? Pooling { get; init; }

    /// <summary>Whether vectors are scaled to length 1.</summary>
    [JsonPropertyName("normalize")]
    public bool? Normalize { get; init; }

    /// <summary>The most tokens (special tokens included) a text is truncated to.</summary>
    [JsonPropertyName("maxTokens")]
    public int? MaxTokens { get; init; }

    /// <summary>Text put before every query, e.g. <c>query: </c>.</summary>
    [JsonPropertyName("queryPrefix")]
    public string? QueryPrefix { get; init; }

    /// <summary>Text put before every document, e.g. <c>passage: </c>.</summary>
    [JsonPropertyName("documentPrefix")]
    public string? DocumentPrefix { get; init; }

    /// <summary>The graph output to read; default: the first output.</summary>
    [JsonPropertyName("outputName")]
    public string? OutputName { get; init; }

    /// <summary>The shorter lengths the model was trained to be truncated to (Matryoshka).</summary>
    [JsonPropertyName("matryoshkaDimensions")]
    public int[]? MatryoshkaDimensions { get; init; }
}
