using System.Buffers;
using Microsoft.ML.OnnxRuntime;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Pooling;
using Orleans.Embeddings.Inference.Tokenization;

namespace Orleans.Embeddings.Inference.Sessions;

/// <summary>
/// One ONNX Runtime session for one model folder on one device: tokenizes a batch, pads it, runs the
/// graph, pools and normalises. Thread-safe: ONNX Runtime sessions accept concurrent runs, and
/// <see cref="Dispose"/> may race with them: the native session is released when the last run in flight ends.
/// </summary>
public sealed class EmbeddingSession : IDisposable
{
    private const string InputIds = "input_ids";
    private const string AttentionMask = "attention_mask";
    private const string TokenTypeIds = "token_type_ids";
    private const string CudaProvider = "CUDAExecutionProvider";

    private readonly InferenceSession _session;
    private readonly ITextTokenizer _tokenizer;
    private readonly bool _hasTokenTypeIds;
    private readonly string _outputName;
    private readonly Lock _lifetime = new();
    private int _runsInFlight;
    private bool _disposed;

    /// <summary>Loads <paramref name="folder"/> on the configured device.</summary>
    /// <exception cref="ModelFolderException">The graph cannot be loaded or does not match the folder.</exception>
    /// <exception cref="InvalidOperationException">A CUDA device was asked for and this build's ONNX Runtime has no CUDA provider.</exception>
    public EmbeddingSession(EmbeddingModelFolder folder, EmbeddingSessionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        options ??= new EmbeddingSessionOptions();
        Folder = folder;
        Device = options.Device;
        _tokenizer = TextTokenizer.Create(folder);

        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = options.IntraOpThreads,
            InterOpNumThreads = options.InterOpThreads,
        };
        sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", options.AllowSpinning ? "1" : "0");
        sessionOptions.AddSessionConfigEntry("session.inter_op.allow_spinning", options.AllowSpinning ? "1" : "0");
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
    /// <exception cref="ObjectDisposedException">The session was disposed.</exception>
    public IReadOnlyList<TextEmbedding> Embed(IReadOnlyList<string> texts, EmbeddingPurpose purpose, int? dimensions = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        CheckDimensions(dimensions);
        return texts.Count == 0 ? [] : EmbedTokens([.. texts.Select(t => Tokenize(t, purpose))], dimensions);
    }

    /// <summary>
    /// The token ids <see cref="Embed(IReadOnlyList{string}, EmbeddingPurpose, int?)"/> would run for <paramref name="text"/>
    /// (the purpose's prefix, special tokens, cut to the token limit). A batcher tokenizes each text before it cuts batches, so
    /// that it can group texts of the same token count (a run pads every text to its longest).
    /// </summary>
    public TokenizedText Tokenize(string text, EmbeddingPurpose purpose)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _tokenizer.Tokenize((purpose == EmbeddingPurpose.Query ? Folder.QueryPrefix : Folder.DocumentPrefix) + text);
    }

    /// <summary>Embeds texts already tokenized by <see cref="Tokenize"/>; the same vectors as embedding the texts.</summary>
    /// <exception cref="ArgumentException">A text has no tokens or more than the model's token limit, or the dimensions are not allowed.</exception>
    /// <exception cref="ObjectDisposedException">The session was disposed.</exception>
    public IReadOnlyList<TextEmbedding> Embed(IReadOnlyList<TokenizedText> tokenized, int? dimensions = null)
    {
        ArgumentNullException.ThrowIfNull(tokenized);
        CheckDimensions(dimensions);
        for (var i = 0; i < tokenized.Count; i++)
        {
            if (tokenized[i].Ids is not { Length: > 0 and var length } || length > Folder.MaxTokens)
            {
                throw new ArgumentException(
                    $"Text {i} has {tokenized[i].Ids?.Length ?? 0} tokens; model {Folder.Name} takes 1 to {Folder.MaxTokens} (tokenize it with this session).", nameof(tokenized));
            }
        }

        return tokenized.Count == 0 ? [] : EmbedTokens(tokenized, dimensions);
    }

    private void CheckDimensions(int? dimensions)
    {
        if (dimensions is { } requested && requested != Folder.Dimensions && !Folder.MatryoshkaDimensions.Contains(requested))
        {
            throw new ArgumentException(
                $"Model {Folder.Name} cannot be truncated to {requested} dimensions; allowed: {string.Join(", ", Folder.MatryoshkaDimensions.Append(Folder.Dimensions))}.",
                nameof(dimensions));
        }
    }

    private TextEmbedding[] EmbedTokens(IReadOnlyList<TokenizedText> tokenized, int? dimensions)
    {
        var length = tokenized.Max(t => t.Ids.Length);
        var width = Folder.Dimensions;
        var count = tokenized.Count;
        var cells = count * length;
        var outputCells = Folder.Pooling == PoolingMode.None ? count * width : cells * width;

        // Input and output buffers come from the shared pools and go back after the run, so a steady
        // stream of batches reuses the same memory instead of allocating tensors per batch.
        var ids = ArrayPool<long>.Shared.Rent(cells);
        var mask = ArrayPool<long>.Shared.Rent(cells);
        var types = _hasTokenTypeIds ? ArrayPool<long>.Shared.Rent(cells) : null;
        var output = ArrayPool<float>.Shared.Rent(outputCells);
        try
        {
            ids.AsSpan(0, cells).Fill(_tokenizer.PaddingId);
            mask.AsSpan(0, cells).Clear();
            types?.AsSpan(0, cells).Clear();
            for (var row = 0; row < count; row++)
            {
                var tokens = tokenized[row].Ids;
                for (var t = 0; t < tokens.Length; t++)
                {
                    ids[(row * length) + t] = tokens[t];
                    mask[(row * length) + t] = 1;
                }
            }

            long[] shape = [count, length];
            long[] outputShape = Folder.Pooling == PoolingMode.None ? [count, width] : [count, length, width];
            var memory = OrtMemoryInfo.DefaultInstance;
            using var idsValue = OrtValue.CreateTensorValueFromMemory(memory, ids.AsMemory(0, cells), shape);
            using var maskValue = OrtValue.CreateTensorValueFromMemory(memory, mask.AsMemory(0, cells), shape);
            using var typesValue = types is null ? null : OrtValue.CreateTensorValueFromMemory(memory, types.AsMemory(0, cells), shape);
            using var outputValue = OrtValue.CreateTensorValueFromMemory(memory, output.AsMemory(0, outputCells), outputShape);
            string[] names = typesValue is null ? [InputIds, AttentionMask] : [InputIds, AttentionMask, TokenTypeIds];
            OrtValue[] values = typesValue is null ? [idsValue, maskValue] : [idsValue, maskValue, typesValue];
            Run(names, values, outputValue);

            var results = new TextEmbedding[count];
            for (var row = 0; row < count; row++)
            {
                var vector = new float[width];
                switch (Folder.Pooling)
                {
                    case PoolingMode.None:
                        output.AsSpan(row * width, width).CopyTo(vector);
                        break;
                    case PoolingMode.Cls:
                        output.AsSpan(row * length * width, width).CopyTo(vector);
                        break;
                    default:
                        VectorPooling.MaskedMean(output.AsSpan(row * length * width, length * width), mask.AsSpan(row * length, length), width, vector);
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
        finally
        {
            ArrayPool<long>.Shared.Return(ids);
            ArrayPool<long>.Shared.Return(mask);
            if (types is not null)
            {
                ArrayPool<long>.Shared.Return(types);
            }

            ArrayPool<float>.Shared.Return(output);
        }
    }

    /// <summary>Refuses new runs and releases the native session once no run is in flight (at once when none is).</summary>
    public void Dispose()
    {
        lock (_lifetime)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (_runsInFlight > 0)
            {
                return;
            }
        }

        _session.Dispose();
    }

    // A silo that stops without deactivating its workers disposes the session while batcher threads may be inside a
    // run; releasing the native session under them is a use-after-free that kills the process. So a run holds the
    // session open, and whichever of Dispose and the last run comes second releases it.
    private void Run(string[] names, OrtValue[] values, OrtValue output)
    {
        lock (_lifetime)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _runsInFlight++;
        }

        try
        {
            using var runOptions = new RunOptions();
            _session.Run(runOptions, names, values, [_outputName], [output]);
        }
        finally
        {
            bool release;
            lock (_lifetime)
            {
                release = --_runsInFlight == 0 && _disposed;
            }

            if (release)
            {
                _session.Dispose();
            }
        }
    }

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
