using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Collections;

/// <summary>
/// Turns a <see cref="ModelRegistration"/> and the model folders it names into the version's storage layout, refusing
/// combinations that cannot work with a message naming the problem: binary quantization of vectors that are not
/// normalised (their signs do not carry the direction), a Matryoshka length the model does not list, a query model
/// whose vectors do not have the document model's length, an index pgvector cannot build.
/// </summary>
public static class VersionLayoutPlanner
{
    private const int MaxIndexedVectorDimensions = 2000;
    private const int MaxIndexedHalfVecDimensions = 4000;

    /// <summary>The layout of a version registered as <paramref name="registration"/> says.</summary>
    /// <param name="registration">What was asked for.</param>
    /// <param name="model">The loaded document model folder.</param>
    /// <param name="queryModel">The loaded query model folder, or null.</param>
    /// <exception cref="ArgumentException">The combination is not possible; the message says why and what to do.</exception>
    public static VersionLayout Plan(ModelRegistration registration, EmbeddingModelFolder model, EmbeddingModelFolder? queryModel)
    {
        ArgumentNullException.ThrowIfNull(registration);
        ArgumentNullException.ThrowIfNull(model);
        var dimensions = registration.Dimensions ?? model.Dimensions;
        if (dimensions != model.Dimensions && !model.MatryoshkaDimensions.Contains(dimensions))
        {
            throw new ArgumentException(model.MatryoshkaDimensions.Count == 0
                ? $"the model in {model.Directory} was not trained for Matryoshka truncation (its embedding.json lists no matryoshkaDimensions), so it cannot be truncated to {dimensions} dimensions; register it at its full {model.Dimensions}"
                : $"the model in {model.Directory} cannot be truncated to {dimensions} dimensions; the lengths it supports are {string.Join(", ", model.MatryoshkaDimensions.Append(model.Dimensions))}");
        }

        if (registration.Representation == VectorRepresentation.Binary && !model.Normalize)
        {
            throw new ArgumentException(
                $"binary quantization needs normalised vectors (one sign bit per dimension keeps their direction), but the model in {model.Directory} does not normalise its output; register it as vector or halfvec");
        }

        if (registration.RerankOversample is { } oversample)
        {
            if (registration.Representation != VectorRepresentation.Binary)
            {
                throw new ArgumentException($"a rerank oversample applies to binary quantization only; this registration is {registration.Representation}");
            }

            if (oversample is < 1 or > VersionLayout.MaxRerankOversample)
            {
                throw new ArgumentException($"the rerank oversample must be between 1 and {VersionLayout.MaxRerankOversample} (was {oversample})");
            }
        }

        if (registration.BinaryBits is { } bits)
        {
            if (registration.Representation != VectorRepresentation.Binary)
            {
                throw new ArgumentException($"bits per dimension apply to binary quantization only; this registration is {registration.Representation}");
            }

            if (bits is not (1 or 2))
            {
                throw new ArgumentException($"a binary index takes 1 or 2 bits per dimension (was {bits})");
            }
        }

        var limit = registration.Representation == VectorRepresentation.Float32 ? MaxIndexedVectorDimensions : MaxIndexedHalfVecDimensions;
        if (registration.Representation != VectorRepresentation.Binary && dimensions > limit)
        {
            throw new ArgumentException(
                $"pgvector's HNSW indexes {(registration.Representation == VectorRepresentation.Float32 ? "vector" : "halfvec")} up to {limit} dimensions and this version would store {dimensions}; use halfvec, binary or a Matryoshka length");
        }

        if (registration.Representation == VectorRepresentation.Binary && dimensions > MaxIndexedHalfVecDimensions)
        {
            throw new ArgumentException($"a binary version reranks on halfvec, which holds up to {MaxIndexedHalfVecDimensions} dimensions; this one would store {dimensions}");
        }

        if (queryModel is not null)
        {
            if (queryModel.Dimensions != model.Dimensions && queryModel.Dimensions != dimensions)
            {
                throw new ArgumentException(
                    $"the query model in {queryModel.Directory} produces {queryModel.Dimensions} dimensions but the document model in {model.Directory} produces {model.Dimensions}; a query model must embed into the document model's space");
            }

            if (queryModel.Dimensions != dimensions && !queryModel.Normalize)
            {
                throw new ArgumentException($"the query model in {queryModel.Directory} does not normalise its output, so it cannot be truncated to {dimensions} dimensions like the documents");
            }
        }

        return Layout(registration.Representation, dimensions, registration.RerankOversample ?? VersionLayout.DefaultRerankOversample, registration.BinaryBits ?? 1);
    }

    /// <summary>The layout of a version with <paramref name="representation"/> that stores <paramref name="dimensions"/> (cosine distance).</summary>
    public static VersionLayout Layout(VectorRepresentation representation, int dimensions, int rerankOversample, int binaryBits = 1) => new(
        dimensions,
        representation == VectorRepresentation.Float32 ? VectorElementType.Vector : VectorElementType.HalfVec,
        DistanceMetric.Cosine)
    {
        Quantization = representation == VectorRepresentation.Binary ? VectorQuantization.Binary : VectorQuantization.None,
        RerankOversample = rerankOversample,
        BinaryBits = representation == VectorRepresentation.Binary ? binaryBits : 1,
    };

    /// <summary>The representation a registered layout was made from.</summary>
    public static VectorRepresentation RepresentationOf(VersionTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        return table.Quantization == VectorQuantization.Binary ? VectorRepresentation.Binary
            : table.ElementType == VectorElementType.HalfVec ? VectorRepresentation.Float16 : VectorRepresentation.Float32;
    }
}
