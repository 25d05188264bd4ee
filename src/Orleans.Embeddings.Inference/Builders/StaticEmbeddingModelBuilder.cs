using Orleans.Embeddings.Inference.Models;

namespace Orleans.Embeddings.Inference.Builders;

/// <summary>
/// Builds a static embedding model from a corpus: a WordPiece vocabulary of the corpus's most frequent
/// words (plus every character, alone and as a "##" continuation, so any text tokenizes), and one seeded
/// random vector per token, optionally weighted by the token's inverse document frequency. The ONNX graph
/// looks the tokens up and masks padding; mean pooling and normalisation happen like for any BERT-family
/// folder. It is a real lexical baseline: texts sharing (rare) words get close vectors.
/// </summary>
public sealed class StaticEmbeddingModelBuilder
{
    /// <summary>The vector length. Default 256.</summary>
    public int Dimensions { get; init; } = 256;

    /// <summary>The most whole words in the vocabulary. Default 30,000.</summary>
    public int MaxWords { get; init; } = 30_000;

    /// <summary>Whether token vectors are scaled by inverse document frequency, so rare words weigh more.</summary>
    public bool IdfWeighting { get; init; } = true;

    /// <summary>The seed of the random projection, so that a build is repeatable.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The token limit written into the folder.</summary>
    public int MaxTokens { get; init; } = 256;

    /// <summary>Builds the model from <paramref name="documents"/> and writes a loadable folder to <paramref name="outputDirectory"/>.</summary>
    public EmbeddingModelFolder Build(IEnumerable<string> documents, string outputDirectory, string name = "static")
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputDirectory);
        ArgumentOutOfRangeException.ThrowIfLessThan(Dimensions, 1);

        var vocabulary = WordPieceVocabulary.Build(documents, MaxWords);
        var tokens = vocabulary.Tokens;
        var table = new float[tokens.Count * Dimensions];
        var random = new Random(Seed);
        var scale = 1 / MathF.Sqrt(Dimensions);
        for (var token = WordPieceVocabulary.SpecialTokens.Count; token < tokens.Count; token++)
        {
            var frequency = vocabulary.DocumentFrequency.GetValueOrDefault(tokens[token].TrimStart('#'));
            var weight = IdfWeighting ? (float)(Math.Log((vocabulary.DocumentCount + 1.0) / (frequency + 1.0)) + 1) : 1f;
            for (var d = 0; d < Dimensions; d++)
            {
                // Box-Muller: Gaussian components make random directions uniform on the sphere.
                var gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                table[(token * Dimensions) + d] = (float)gaussian * scale * weight;
            }
        }

        StaticEmbeddingFolder.WriteModel(outputDirectory, table, tokens.Count, Dimensions, name, MaxTokens);
        vocabulary.Write(Path.Combine(outputDirectory, "vocab.txt"));
        ModelFolderFiles.WriteJson(outputDirectory, "tokenizer_config.json", new { do_lower_case = true, model_max_length = MaxTokens, tokenizer_class = "BertTokenizer" });
        return EmbeddingModelFolder.Load(outputDirectory);
    }
}
