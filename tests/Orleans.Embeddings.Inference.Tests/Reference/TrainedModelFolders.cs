using System.Text.Json;
using System.Text.Json.Nodes;
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
    public static EmbeddingModelFolder MiniLm() => TrainedModels.MiniLmAsync().GetAwaiter().GetResult();

    public static EmbeddingModelFolder ArcticXs() => TrainedModels.ArcticXsAsync().GetAwaiter().GetResult();

    /// <summary>
    /// A folder beside nothing else, named after <paramref name="folder"/>, with what Transformers.js reads: config.json
    /// (model_type bert), tokenizer.json (BertNormalizer, BertPreTokenizer, WordPiece over vocab.txt, [CLS] $A [SEP]),
    /// tokenizer_config.json and onnx/model.onnx (a link to the graph). The folder's own files are copied when it has them
    /// (a fetched folder has them all); the reference truncates itself, so model_max_length does not matter.
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
        CopyOrWrite(folder, directory, "tokenizer_config.json", () => new JsonObject
        {
            ["tokenizer_class"] = "BertTokenizer", ["do_lower_case"] = folder.LowerCase, ["model_max_length"] = folder.MaxTokens,
            ["cls_token"] = "[CLS]", ["sep_token"] = "[SEP]", ["pad_token"] = "[PAD]", ["unk_token"] = "[UNK]", ["mask_token"] = "[MASK]",
        });
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
}
