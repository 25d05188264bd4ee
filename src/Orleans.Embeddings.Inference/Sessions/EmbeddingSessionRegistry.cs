using System.Collections.Concurrent;
using Orleans.Embeddings.Inference.Models;
using Orleans.Embeddings.Inference.Tokenization;

namespace Orleans.Embeddings.Inference.Sessions;

/// <summary>
/// One <see cref="EmbeddingSession"/> per (model folder, device, tokenizer revision) in a process: a session holds the
/// graph's weights and its thread pool, so every worker of a version on a device shares the same one. Two versions of
/// one folder registered with different tokenizer revisions get a session each, as they must tokenize differently.
/// </summary>
public sealed class EmbeddingSessionRegistry : IDisposable
{
    private readonly ConcurrentDictionary<(string Model, string Device, TokenizerRevision Tokenizer), Lazy<EmbeddingSession>> _sessions = new();
    private readonly Func<EmbeddingModelFolder, EmbeddingSessionOptions, EmbeddingSession> _create;
    private bool _disposed;

    /// <summary>Creates sessions with <see cref="EmbeddingSession"/>'s constructor.</summary>
    public EmbeddingSessionRegistry()
        : this((folder, options) => new EmbeddingSession(folder, options))
    {
    }

    /// <summary>Creates sessions with <paramref name="create"/>.</summary>
    public EmbeddingSessionRegistry(Func<EmbeddingModelFolder, EmbeddingSessionOptions, EmbeddingSession> create)
    {
        ArgumentNullException.ThrowIfNull(create);
        _create = create;
    }

    /// <summary>The session for <paramref name="folder"/> (in its tokenizer revision) on <paramref name="options"/>' device, created on first use.</summary>
    /// <remarks>
    /// The first caller's thread settings are the session's. A session that failed to load is not kept: the next call
    /// tries again (the folder may have been fixed).
    /// </remarks>
    public EmbeddingSession GetOrCreate(EmbeddingModelFolder folder, EmbeddingSessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(options);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var key = (Path.GetFullPath(folder.ModelPath), options.Device.Name, folder.TokenizerRevision);
        var lazy = _sessions.GetOrAdd(key, _ => new Lazy<EmbeddingSession>(() => _create(folder, options), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            _sessions.TryRemove(new KeyValuePair<(string, string, TokenizerRevision), Lazy<EmbeddingSession>>(key, lazy));
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _disposed = true;
        foreach (var session in _sessions.Values.Where(l => l.IsValueCreated))
        {
            session.Value.Dispose();
        }

        _sessions.Clear();
    }
}
