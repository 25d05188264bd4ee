using System.Text.Json;
using System.Text.Json.Nodes;
using Orleans.Embeddings.Inference.Tokenization;

namespace Orleans.Embeddings.Inference.Models;

/// <summary>
/// A model folder as sentence-transformers exports it (<c>model.onnx</c> or <c>onnx/model.onnx</c>,
/// <c>vocab.txt</c>, <c>tokenizer_config.json</c>, <c>config.json</c>, <c>modules.json</c>,
/// <c>1_Pooling/config.json</c>), with an optional <c>embedding.json</c> that states or overrides the rest.
/// </summary>
public sealed record EmbeddingModelFolder
{
    /// <summary>The token limit used when no file states one (BERT's position table).</summary>
    public const int DefaultMaxTokens = 512;

    /// <summary>The folder.</summary>
    public required string Directory { get; init; }

    /// <summary>The ONNX graph file.</summary>
    public required string ModelPath { get; init; }

    /// <summary>The tokenizer file: <c>vocab.txt</c> (WordPiece) or a SentencePiece <c>*.model</c>.</summary>
    public required string TokenizerPath { get; init; }

    /// <summary>Which tokenizer <see cref="TokenizerPath"/> holds.</summary>
    public required TokenizerKind Tokenizer { get; init; }

    /// <summary>
    /// Which implementation tokenizes: <see cref="TokenizerRevision.BertHf"/> for <c>vocab.txt</c> and
    /// <see cref="TokenizerRevision.SentencePiece"/> for a <c>*.model</c> when loaded; a version registered with an
    /// older revision runs its folder <c>with</c> that one, so that its queries are tokenized as its table was.
    /// </summary>
    public required TokenizerRevision TokenizerRevision { get; init; }

    /// <summary>Whether the tokenizer lower-cases text first (<c>do_lower_case</c>).</summary>
    public required bool LowerCase { get; init; }

    /// <summary>Whether accents are removed (<c>strip_accents</c>; by default, whenever text is lower-cased, as BERT does).</summary>
    public required bool StripAccents { get; init; }

    /// <summary>A display name.</summary>
    public required string Name { get; init; }

    /// <summary>The vector length the graph produces (before any Matryoshka truncation).</summary>
    public required int Dimensions { get; init; }

    /// <summary>How token vectors are pooled.</summary>
    public required PoolingMode Pooling { get; init; }

    /// <summary>Whether vectors are scaled to length 1.</summary>
    public required bool Normalize { get; init; }

    /// <summary>The most tokens per text, special tokens included.</summary>
    public required int MaxTokens { get; init; }

    /// <summary>Text put before every query.</summary>
    public string QueryPrefix { get; init; } = string.Empty;

    /// <summary>Text put before every document.</summary>
    public string DocumentPrefix { get; init; } = string.Empty;

    /// <summary>The graph output to read; null means the first.</summary>
    public string? OutputName { get; init; }

    /// <summary>Allowed Matryoshka lengths; empty when the model was not trained for truncation.</summary>
    public IReadOnlyList<int> MatryoshkaDimensions { get; init; } = [];

    /// <summary>
    /// This folder tokenized as a version registered with <paramref name="registered"/> tokenizes: a WordPiece folder
    /// with that WordPiece revision (or <see cref="TokenizerRevision.BertHf"/> when the version's document model is
    /// SentencePiece), a SentencePiece folder with <see cref="TokenizerRevision.SentencePiece"/>, whose tokenization
    /// has never changed.
    /// </summary>
    public EmbeddingModelFolder RegisteredWith(TokenizerRevision registered) => this with
    {
        TokenizerRevision = Tokenizer == TokenizerKind.SentencePiece
            ? TokenizerRevision.SentencePiece
            : registered == TokenizerRevision.SentencePiece ? TokenizerRevision.BertHf : registered,
    };

    /// <summary>Reads and checks a model folder.</summary>
    /// <exception cref="ModelFolderException">A file is missing, unreadable or inconsistent; the message names it.</exception>
    public static EmbeddingModelFolder Load(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (!System.IO.Directory.Exists(directory))
        {
            throw new ModelFolderException($"Model folder '{directory}' does not exist.");
        }

        var model = new[] { "model.onnx", Path.Combine("onnx", "model.onnx") }.Select(p => Path.Combine(directory, p)).FirstOrDefault(File.Exists)
            ?? throw new ModelFolderException($"Model folder '{directory}' has no model.onnx (nor onnx/model.onnx).");
        var (tokenizer, tokenizerPath) = File.Exists(Path.Combine(directory, "vocab.txt"))
            ? (TokenizerKind.WordPiece, Path.Combine(directory, "vocab.txt"))
            : System.IO.Directory.GetFiles(directory, "*.model").Order(StringComparer.Ordinal).FirstOrDefault() is { } sentencePiece
                ? (TokenizerKind.SentencePiece, sentencePiece)
                : throw new ModelFolderException($"Model folder '{directory}' has no tokenizer: neither vocab.txt (WordPiece) nor a SentencePiece *.model file.");

        var tokenizerConfig = ReadJson(directory, "tokenizer_config.json");
        var config = ReadJson(directory, "config.json");
        var pooling = ReadJson(directory, Path.Combine("1_Pooling", "config.json"));
        var modules = ReadJsonArray(directory, "modules.json");
        var manifest = ReadManifest(directory);

        var dimensions = manifest?.Dimensions ?? Int(pooling, "word_embedding_dimension") ?? Int(config, "hidden_size")
            ?? throw new ModelFolderException($"Model folder '{directory}' does not say how many dimensions it produces: set \"dimensions\" in {EmbeddingModelManifest.FileName} (or hidden_size in config.json).");
        if (dimensions < 1)
        {
            throw new ModelFolderException($"{Path.Combine(directory, EmbeddingModelManifest.FileName)}: dimensions must be positive (was {dimensions}).");
        }

        var poolingMode = manifest?.Pooling is { } stated
            ? stated.ToLowerInvariant() switch
            {
                "mean" => PoolingMode.Mean,
                "cls" => PoolingMode.Cls,
                "none" => PoolingMode.None,
                _ => throw new ModelFolderException($"{Path.Combine(directory, EmbeddingModelManifest.FileName)}: pooling '{stated}' must be mean, cls or none."),
            }
            : Bool(pooling, "pooling_mode_cls_token") == true ? PoolingMode.Cls : PoolingMode.Mean;

        var normalize = manifest?.Normalize
            ?? modules?.Any(m => m?["type"]?.GetValue<string>()?.EndsWith(".Normalize", StringComparison.Ordinal) == true)
            ?? true;

        var maxTokens = Math.Min(
            manifest?.MaxTokens ?? Int(tokenizerConfig, "model_max_length") ?? DefaultMaxTokens,
            Int(config, "max_position_embeddings") ?? int.MaxValue);
        if (maxTokens < 3)
        {
            throw new ModelFolderException($"Model folder '{directory}': max tokens must leave room for [CLS], one token and [SEP] (was {maxTokens}).");
        }

        var matryoshka = manifest?.MatryoshkaDimensions ?? [];
        if (matryoshka.Any(d => d < 1 || d > dimensions))
        {
            throw new ModelFolderException($"{Path.Combine(directory, EmbeddingModelManifest.FileName)}: every Matryoshka dimension must be between 1 and {dimensions}.");
        }

        var lowerCase = Bool(tokenizerConfig, "do_lower_case") ?? true;
        return new EmbeddingModelFolder
        {
            Directory = directory,
            ModelPath = model,
            TokenizerPath = tokenizerPath,
            Tokenizer = tokenizer,
            TokenizerRevision = tokenizer == TokenizerKind.SentencePiece ? TokenizerRevision.SentencePiece : TokenizerRevision.BertHf,
            LowerCase = lowerCase,
            StripAccents = Bool(tokenizerConfig, "strip_accents") ?? lowerCase,
            Name = manifest?.Name ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(directory)),
            Dimensions = dimensions,
            Pooling = poolingMode,
            Normalize = normalize,
            MaxTokens = maxTokens,
            QueryPrefix = manifest?.QueryPrefix ?? string.Empty,
            DocumentPrefix = manifest?.DocumentPrefix ?? string.Empty,
            OutputName = manifest?.OutputName,
            MatryoshkaDimensions = [.. matryoshka.Order()],
        };
    }

    private static EmbeddingModelManifest? ReadManifest(string directory)
    {
        var path = Path.Combine(directory, EmbeddingModelManifest.FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<EmbeddingModelManifest>(File.ReadAllText(path))
                ?? throw new ModelFolderException($"{path} is empty.");
        }
        catch (JsonException ex)
        {
            throw new ModelFolderException($"{path} is not a valid manifest: {ex.Message}", ex);
        }
    }

    private static JsonObject? ReadJson(string directory, string relativePath)
    {
        var path = Path.Combine(directory, relativePath);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new ModelFolderException($"{path} must hold a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new ModelFolderException($"{path} is not valid JSON: {ex.Message}", ex);
        }
    }

    private static JsonArray? ReadJsonArray(string directory, string relativePath)
    {
        var path = Path.Combine(directory, relativePath);
        try
        {
            return File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path)) as JsonArray : null;
        }
        catch (JsonException ex)
        {
            throw new ModelFolderException($"{path} is not valid JSON: {ex.Message}", ex);
        }
    }

    private static int? Int(JsonObject? json, string key) =>
        json?[key] is JsonValue value && value.TryGetValue<double>(out var number) && number is >= 0 and <= int.MaxValue ? (int)number : null;

    private static bool? Bool(JsonObject? json, string key) =>
        json?[key] is JsonValue value && value.TryGetValue<bool>(out var flag) ? flag : null;
}
