using Microsoft.ML.OnnxRuntime;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Pooling;
using Orleans.Embeddings.Inference.Tokenization;

namespace Orleans.Embeddings.Inference.Sessions;

/// <summary>
/// One ONNX Runtime session for one model folder on one device: tokenizes a batch, pads it, runs the
/// graph, pools and normalises. Thread-safe: ONNX Runtime sessions accept concurrent runs.
/// </summary>
public sealed class EmbeddingSession : IDisposable
{
    private const string InputIds = "input_ids";
    private const string AttentionMask = "attention_mask";
    private const string TokenTypeIds = "token_type_ids";
    private const string CudaProvider = "CUDAExecutionProvider";

    private readonly InferenceSession _session;
    private readonly WordPieceTokenizer _tokenizer;
    private readonly bool _hasTokenTypeIds;
    private readonly string _outputName;

    /// <summary>Loads <paramref name="folder"/> on the configured device.</summary>
    /// <exception cref="ModelFolderException">The graph cannot be loaded or does not match the folder.</exception>
    /// <exception cref="InvalidOperationException">A CUDA device was asked for and this build's ONNX Runtime has no CUDA provider.</exception>
    public EmbeddingSession(EmbeddingModelFolder folder, EmbeddingSessionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        options ??= new EmbeddingSessionOptions();
        Folder = folder;
        Device = options.Device;
        _tokenizer = new WordPieceTokenizer(folder);

        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = options.IntraOpThreads,
            InterOpNumThreads = options.InterOpThreads,
        };
        if (options.Device.CudaIndex is { } cuda)
        {
            if (!OrtEnv.Instance().GetAvailableProviders().Contains(CudaProvider))
            {
                throw new InvalidOperationException(
                    $"Device {options.Device} needs ONNX Runtime's CUDA execution provider, which this build does not have (it uses the CPU package " +
                    "Microsoft.ML.OnnxRuntime). Build with -p:OnnxRuntimeGpu=true to use Microsoft.ML.OnnxRuntime.Gpu, or declare the device 'cpu'.");
            }

            sessionOptions.AppendExecutionProvider_CUDA(cuda);
        }

        try
        {
            _session = new InferenceSession(folder.ModelPath, sessionOptions);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new ModelFolderException($"{folder.ModelPath} could not be loaded by ONNX Runtime: {ex.Message}", ex);
        }

        try
        {
            (_hasTokenTypeIds, _outputName) = CheckGraph(folder, _session);
        }
        catch
        {
            _session.Dispose();
            throw;
        }
    }

    /// <summary>The model folder this session runs.</summary>
    public EmbeddingModelFolder Folder { get; }

    /// <summary>The device this session runs on.</summary>
    public InferenceDevice Device { get; }

    /// <summary>Embeds a batch of texts with the prefix for <paramref name="purpose"/>.</summary>
    /// <param name="texts">The texts; each is embedded independently of the others in the batch.</param>
    /// <param name="purpose">Query or document.</param>
    /// <param name="dimensions">A Matryoshka length the model allows, or null for the full length.</param>
    /// <exception cref="ArgumentException">The dimensions are not among the model's Matryoshka lengths.</exception>
    public IReadOnlyList<TextEmbedding> Embed(IReadOnlyList<string> texts, EmbeddingPurpose purpose, int? dimensions = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (dimensions is { } requested && requested != Folder.Dimensions && !Folder.MatryoshkaDimensions.Contains(requested))
        {
            throw new ArgumentException(
                $"Model {Folder.Name} cannot be truncated to {requested} dimensions; allowed: {string.Join(", ", Folder.MatryoshkaDimensions.Append(Folder.Dimensions))}.",
                nameof(dimensions));
        }

        if (texts.Count == 0)
        {
            return [];
        }

        var prefix = purpose == EmbeddingPurpose.Query ? Folder.QueryPrefix : Folder.DocumentPrefix;
        var tokenized = texts.Select(t => _tokenizer.Tokenize(prefix + t)).ToArray();
        var length = tokenized.Max(t => t.Ids.Length);
        var ids = new long[texts.Count * length];
        var mask = new long[texts.Count * length];
        for (var row = 0; row < tokenized.Length; row++)
        {
            var offset = row * length;
            var tokens = tokenized[row].Ids;
            ids.AsSpan(offset, length).Fill(_tokenizer.PaddingId);
            for (var t = 0; t < tokens.Length; t++)
            {
                ids[offset + t] = tokens[t];
                mask[offset + t] = 1;
            }
        }

        long[] shape = [texts.Count, length];
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesValue = _hasTokenTypeIds ? OrtValue.CreateTensorValueFromMemory(new long[ids.Length], shape) : null;
        var names = new List<string> { InputIds, AttentionMask };
        var values = new List<OrtValue> { idsValue, maskValue };
        if (typesValue is not null)
        {
            names.Add(TokenTypeIds);
            values.Add(typesValue);
        }

        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, names, values, [_outputName]);
        var output = outputs[0].GetTensorDataAsSpan<float>();
        var width = Folder.Dimensions;
        var results = new TextEmbedding[texts.Count];
        for (var row = 0; row < texts.Count; row++)
        {
            var vector = new float[width];
            switch (Folder.Pooling)
            {
                case PoolingMode.None:
                    output.Slice(row * width, width).CopyTo(vector);
                    break;
                case PoolingMode.Cls:
                    output.Slice(row * length * width, width).CopyTo(vector);
                    break;
                default:
                    VectorPooling.MaskedMean(output.Slice(row * length * width, length * width), mask.AsSpan(row * length, length), width, vector);
                    break;
            }

            if (Folder.Normalize)
            {
                VectorPooling.Normalize(vector);
            }

            if (dimensions is { } shorter && shorter != width)
            {
                vector = VectorPooling.Truncate(vector, shorter);
            }

            results[row] = new TextEmbedding(vector, tokenized[row].Ids.Length, tokenized[row].Truncated);
        }

        return results;
    }

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();

    private static (bool HasTokenTypeIds, string Output) CheckGraph(EmbeddingModelFolder folder, InferenceSession session)
    {
        var inputs = session.InputMetadata.Keys.ToHashSet(StringComparer.Ordinal);
        var unknown = inputs.Except([InputIds, AttentionMask, TokenTypeIds]).ToList();
        if (unknown.Count > 0 || !inputs.Contains(InputIds) || !inputs.Contains(AttentionMask))
        {
            throw new ModelFolderException(
                $"{folder.ModelPath} has inputs [{string.Join(", ", inputs)}]; expected input_ids and attention_mask (and optionally token_type_ids)" +
                (unknown.Count > 0 ? $"; unknown: {string.Join(", ", unknown)}." : "."));
        }

        var output = folder.OutputName ?? session.OutputMetadata.Keys.First();
        if (!session.OutputMetadata.TryGetValue(output, out var metadata))
        {
            throw new ModelFolderException($"{folder.ModelPath} has no output '{output}' (outputs: {string.Join(", ", session.OutputMetadata.Keys)}); fix outputName in {EmbeddingModelManifest.FileName}.");
        }

        var expectedRank = folder.Pooling == PoolingMode.None ? 2 : 3;
        if (metadata.Dimensions.Length != expectedRank)
        {
            throw new ModelFolderException(
                $"{folder.ModelPath} output '{output}' has rank {metadata.Dimensions.Length}; pooling '{folder.Pooling}' needs rank {expectedRank} ([batch{(expectedRank == 3 ? ", tokens" : string.Empty)}, dimensions]).");
        }

        var width = metadata.Dimensions[^1];
        if (width > 0 && width != folder.Dimensions)
        {
            throw new ModelFolderException(
                $"{folder.ModelPath} produces {width} dimensions but the folder says {folder.Dimensions} ({EmbeddingModelManifest.FileName}, 1_Pooling/config.json or config.json).");
        }

        return (inputs.Contains(TokenTypeIds), output);
    }
}
