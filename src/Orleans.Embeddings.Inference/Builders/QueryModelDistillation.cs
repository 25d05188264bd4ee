using Orleans.Embeddings.Inference.Models;

namespace Orleans.Embeddings.Inference.Builders;

/// <summary>What <see cref="QueryModelDistiller"/> built and how well it agrees with its document model.</summary>
/// <param name="Folder">The query model's folder, loaded.</param>
/// <param name="TextsUsed">Corpus texts the query-like spans were cut from.</param>
/// <param name="TrainingQueries">Spans the token table was fitted on.</param>
/// <param name="HeldOutQueries">Spans of held-out texts (no span of theirs was fitted on), on which the agreement is measured.</param>
/// <param name="HeldOutCosineBetweenSpans">
/// The mean cosine between the document model's vectors of two different held-out spans: the floor a mean cosine
/// is to be read against (a model whose vectors all point one way has a high one).
/// </param>
/// <param name="Before">The agreement with the initial token table (each token embedded alone by the document model).</param>
/// <param name="AfterLinearFit">The agreement after the least-squares map, before the token vectors were refined.</param>
/// <param name="After">The agreement of the model written.</param>
/// <param name="Elapsed">Time of the whole distillation.</param>
/// <param name="DocumentModelTime">Of <paramref name="Elapsed"/>, the time the document model spent embedding tokens and spans.</param>
public sealed record QueryModelDistillation(
    EmbeddingModelFolder Folder,
    int TextsUsed,
    int TrainingQueries,
    int HeldOutQueries,
    double HeldOutCosineBetweenSpans,
    QueryModelAgreement Before,
    QueryModelAgreement AfterLinearFit,
    QueryModelAgreement After,
    TimeSpan Elapsed,
    TimeSpan DocumentModelTime);
