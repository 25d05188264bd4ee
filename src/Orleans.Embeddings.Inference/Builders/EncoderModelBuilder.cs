using System.Numerics.Tensors;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Onnx;

namespace Orleans.Embeddings.Inference.Builders;

/// <summary>
/// Writes a BERT-architecture encoder with seeded random weights as a sentence-transformers-style folder:
/// the standard inputs (input_ids, attention_mask, token_type_ids) and output (last_hidden_state [batch,
/// tokens, hidden]), mean pooling and normalisation. Its embeddings mean nothing; its compute is that of
/// a real model of the same shape, which is what benchmarks need.
/// </summary>
public sealed class EncoderModelBuilder
{
    private const float LayerNormEpsilon = 1e-12f;

    /// <summary>The shape. Default: <see cref="EncoderConfiguration.Tiny"/>.</summary>
    public EncoderConfiguration Configuration { get; init; } = EncoderConfiguration.Tiny;

    /// <summary>The seed of the weights.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The most whole words in the vocabulary (about 30k makes the MiniLM-sized table).</summary>
    public int MaxWords { get; init; } = 30_000;

    /// <summary>
    /// Word embeddings are scaled by this factor, so that in each token's vector the word, not the position and
    /// token-type embeddings that every text shares, dominates the residual stream (the layer norms keep each token's
    /// direction, not its length): the mean-pooled output then keeps a lexical signal (texts sharing words are close),
    /// with the same compute. Default 1: plain seeded weights, whose embeddings mean nothing.
    /// </summary>
    public float LexicalScale { get; init; } = 1;

    /// <summary>Builds a vocabulary from <paramref name="documents"/>, draws the weights, and writes the folder.</summary>
    public (EmbeddingModelFolder Folder, EncoderWeights Weights) Build(IEnumerable<string> documents, string outputDirectory, string name = "encoder")
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputDirectory);
        Configuration.Validate();
        var vocabulary = WordPieceVocabulary.Build(documents, MaxWords);
        var weights = EncoderWeights.CreateRandom(Configuration, vocabulary.Tokens.Count, Seed);
        if (LexicalScale != 1)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(LexicalScale);
            TensorPrimitives.Multiply(weights.WordEmbeddings, LexicalScale, weights.WordEmbeddings);
        }

        Directory.CreateDirectory(Path.Combine(outputDirectory, "1_Pooling"));
        File.WriteAllBytes(Path.Combine(outputDirectory, "model.onnx"), BuildGraph(weights));
        vocabulary.Write(Path.Combine(outputDirectory, "vocab.txt"));
        var c = Configuration;
        ModelFolderFiles.WriteJson(outputDirectory, "tokenizer_config.json", new { do_lower_case = true, model_max_length = c.MaxPositions, tokenizer_class = "BertTokenizer" });
        ModelFolderFiles.WriteJson(outputDirectory, "config.json", new
        {
            model_type = "bert",
            hidden_size = c.Hidden,
            num_hidden_layers = c.Layers,
            num_attention_heads = c.Heads,
            intermediate_size = c.Intermediate,
            max_position_embeddings = c.MaxPositions,
            vocab_size = vocabulary.Tokens.Count,
            hidden_act = "gelu",
            layer_norm_eps = LayerNormEpsilon,
        });
        ModelFolderFiles.WriteJson(outputDirectory, Path.Combine("1_Pooling", "config.json"), new { word_embedding_dimension = c.Hidden, pooling_mode_mean_tokens = true, pooling_mode_cls_token = false });
        ModelFolderFiles.WriteJson(outputDirectory, "modules.json", new object[]
        {
            new { idx = 0, name = "0", path = string.Empty, type = "sentence_transformers.models.Transformer" },
            new { idx = 1, name = "1", path = "1_Pooling", type = "sentence_transformers.models.Pooling" },
            new { idx = 2, name = "2", path = "2_Normalize", type = "sentence_transformers.models.Normalize" },
        });
        ModelFolderFiles.WriteJson(outputDirectory, EmbeddingModelManifest.FileName, new EmbeddingModelManifest { Name = name, OutputName = "last_hidden_state" });
        return (EmbeddingModelFolder.Load(outputDirectory), weights);
    }

    private static byte[] BuildGraph(EncoderWeights weights)
    {
        var c = weights.Configuration;
        long h = c.Hidden;
        var g = new OnnxGraphBuilder("bert_encoder")
            .AddInput("input_ids", OnnxElementType.Int64, "batch", "tokens")
            .AddInput("attention_mask", OnnxElementType.Int64, "batch", "tokens")
            .AddInput("token_type_ids", OnnxElementType.Int64, "batch", "tokens")
            .AddOutput("last_hidden_state", OnnxElementType.Float, "batch", "tokens", h)
            .AddInitializer("word_embeddings", weights.WordEmbeddings, weights.VocabularySize, h)
            .AddInitializer("position_embeddings", weights.PositionEmbeddings, c.MaxPositions, h)
            .AddInitializer("token_type_embeddings", weights.TokenTypeEmbeddings, 2, h)
            .AddInitializer("embeddings_norm_scale", weights.EmbeddingNorm.Scale, h)
            .AddInitializer("embeddings_norm_bias", weights.EmbeddingNorm.Bias, h)
            .AddInitializer("zero_1d", (ReadOnlySpan<long>)[0L], 1)
            .AddInitializer("one_1d", (ReadOnlySpan<long>)[1L], 1)
            .AddInitializer("two_1d", (ReadOnlySpan<long>)[2L], 1)
            .AddInitializer("mask_axes", (ReadOnlySpan<long>)[1L, 2L], 2)
            .AddInitializer("heads_shape", (ReadOnlySpan<long>)[0L, 0L, c.Heads, c.HeadSize], 4)
            .AddInitializer("hidden_shape", (ReadOnlySpan<long>)[0L, 0L, h], 3)
            .AddInitializer("one", (ReadOnlySpan<float>)[1f])
            .AddInitializer("half", (ReadOnlySpan<float>)[0.5f])
            .AddInitializer("sqrt2", (ReadOnlySpan<float>)[MathF.Sqrt(2)])
            .AddInitializer("masked_score", (ReadOnlySpan<float>)[-10000f])
            .AddInitializer("attention_scale", (ReadOnlySpan<float>)[1 / MathF.Sqrt(c.HeadSize)]);

        // Embeddings: word + position (the first `tokens` rows) + token type, then LayerNorm.
        g.AddNode("Gather", ["word_embeddings", "input_ids"], ["word"], Attributes(("axis", 0L)))
         .AddNode("Shape", ["input_ids"], ["ids_shape"])
         .AddNode("Slice", ["ids_shape", "one_1d", "two_1d"], ["token_count"])
         .AddNode("Slice", ["position_embeddings", "zero_1d", "token_count", "zero_1d"], ["position"])
         .AddNode("Gather", ["token_type_embeddings", "token_type_ids"], ["token_type"], Attributes(("axis", 0L)))
         .AddNode("Add", ["word", "position"], ["word_position"])
         .AddNode("Add", ["word_position", "token_type"], ["embedding_sum"])
         .AddNode("LayerNormalization", ["embedding_sum", "embeddings_norm_scale", "embeddings_norm_bias"], ["layer_0_input"], Attributes(("axis", -1L), ("epsilon", LayerNormEpsilon)));

        // Padding positions get a large negative score before the softmax: [batch, 1, 1, tokens].
        g.AddNode("Cast", ["attention_mask"], ["mask_float"], Attributes(("to", (long)OnnxElementType.Float)))
         .AddNode("Sub", ["one", "mask_float"], ["mask_inverted"])
         .AddNode("Mul", ["mask_inverted", "masked_score"], ["mask_scores"])
         .AddNode("Unsqueeze", ["mask_scores", "mask_axes"], ["mask_bias"]);

        for (var l = 0; l < c.Layers; l++)
        {
            var w = weights.Layers[l];
            var p = $"layer_{l}_";
            var x = $"layer_{l}_input";
            void Linear(string input, string weight, float[] matrix, float[] bias, long rows, long columns, string output)
            {
                g.AddInitializer(p + weight, matrix, rows, columns)
                 .AddInitializer(p + weight + "_bias", bias, columns)
                 .AddNode("MatMul", [input, p + weight], [output + "_product"])
                 .AddNode("Add", [output + "_product", p + weight + "_bias"], [output]);
            }

            Linear(x, "query", w.Query, w.QueryBias, h, h, p + "q");
            Linear(x, "key", w.Key, w.KeyBias, h, h, p + "k");
            Linear(x, "value", w.Value, w.ValueBias, h, h, p + "v");
            g.AddNode("Reshape", [p + "q", "heads_shape"], [p + "q_heads"])
             .AddNode("Transpose", [p + "q_heads"], [p + "q_t"], Attributes(("perm", new long[] { 0, 2, 1, 3 })))
             .AddNode("Reshape", [p + "k", "heads_shape"], [p + "k_heads"])
             .AddNode("Transpose", [p + "k_heads"], [p + "k_t"], Attributes(("perm", new long[] { 0, 2, 3, 1 })))
             .AddNode("Reshape", [p + "v", "heads_shape"], [p + "v_heads"])
             .AddNode("Transpose", [p + "v_heads"], [p + "v_t"], Attributes(("perm", new long[] { 0, 2, 1, 3 })))
             .AddNode("MatMul", [p + "q_t", p + "k_t"], [p + "scores_raw"])
             .AddNode("Mul", [p + "scores_raw", "attention_scale"], [p + "scores_scaled"])
             .AddNode("Add", [p + "scores_scaled", "mask_bias"], [p + "scores"])
             .AddNode("Softmax", [p + "scores"], [p + "probabilities"], Attributes(("axis", -1L)))
             .AddNode("MatMul", [p + "probabilities", p + "v_t"], [p + "context_heads"])
             .AddNode("Transpose", [p + "context_heads"], [p + "context_t"], Attributes(("perm", new long[] { 0, 2, 1, 3 })))
             .AddNode("Reshape", [p + "context_t", "hidden_shape"], [p + "context"]);
            Linear(p + "context", "attention_output", w.AttentionOutput, w.AttentionOutputBias, h, h, p + "attention");
            g.AddNode("Add", [p + "attention", x], [p + "attention_residual"])
             .AddInitializer(p + "attention_norm_scale", w.AttentionNormScale, h)
             .AddInitializer(p + "attention_norm_bias", w.AttentionNormBias, h)
             .AddNode("LayerNormalization", [p + "attention_residual", p + "attention_norm_scale", p + "attention_norm_bias"], [p + "attention_normed"], Attributes(("axis", -1L), ("epsilon", LayerNormEpsilon)));

            // Feed-forward with exact GELU: x · ½ · (1 + erf(x / √2)).
            Linear(p + "attention_normed", "intermediate", w.Intermediate, w.IntermediateBias, h, c.Intermediate, p + "ff");
            g.AddNode("Div", [p + "ff", "sqrt2"], [p + "ff_scaled"])
             .AddNode("Erf", [p + "ff_scaled"], [p + "ff_erf"])
             .AddNode("Add", [p + "ff_erf", "one"], [p + "ff_erf_plus_one"])
             .AddNode("Mul", [p + "ff", "half"], [p + "ff_half"])
             .AddNode("Mul", [p + "ff_half", p + "ff_erf_plus_one"], [p + "ff_gelu"]);
            Linear(p + "ff_gelu", "output", w.Output, w.OutputBias, c.Intermediate, h, p + "ff_out");
            var next = l == c.Layers - 1 ? "last_hidden_state" : $"layer_{l + 1}_input";
            g.AddNode("Add", [p + "ff_out", p + "attention_normed"], [p + "output_residual"])
             .AddInitializer(p + "output_norm_scale", w.OutputNormScale, h)
             .AddInitializer(p + "output_norm_bias", w.OutputNormBias, h)
             .AddNode("LayerNormalization", [p + "output_residual", p + "output_norm_scale", p + "output_norm_bias"], [next], Attributes(("axis", -1L), ("epsilon", LayerNormEpsilon)));
        }

        return g.Build();
    }

    private static Dictionary<string, object> Attributes(params (string Name, object Value)[] attributes) =>
        attributes.ToDictionary(a => a.Name, a => a.Value);
}
