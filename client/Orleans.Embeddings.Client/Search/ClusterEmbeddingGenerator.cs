using Microsoft.Extensions.AI;
using Orleans.Embeddings.Search;

namespace Orleans.Embeddings.Client.Search;

/// <summary>
/// A Microsoft.Extensions.AI embedding generator that embeds through the cluster's workers with one model version of a
/// collection, so vectors it makes can be compared with that version's table (and with each other). The version is
/// fixed at construction; <see cref="EmbeddingGenerationOptions.ModelId"/> names another version for one call.
/// </summary>
public sealed class ClusterEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly EmbeddingSearchClient _client;
    private readonly string _collection;
    private readonly string _version;
    private readonly TextKind _kind;

    /// <summary>Creates the generator.</summary>
    /// <param name="client">The search client it calls through.</param>
    /// <param name="collection">The collection whose model embeds.</param>
    /// <param name="version">The model version.</param>
    /// <param name="kind">Whether texts are embedded as queries (the model's query prefix) or as documents.</param>
    public ClusterEmbeddingGenerator(EmbeddingSearchClient client, string collection, string version, TextKind kind = TextKind.Query)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(collection);
        ArgumentException.ThrowIfNullOrWhiteSpace(version);
        _client = client;
        _collection = collection;
        _version = version;
        _kind = kind;
        Metadata = new EmbeddingGeneratorMetadata("orleans-embeddings", providerUri: null, defaultModelId: version);
    }

    /// <summary>The provider (orleans-embeddings) and the default model id (the version).</summary>
    public EmbeddingGeneratorMetadata Metadata { get; }

    /// <inheritdoc />
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var version = options?.ModelId ?? _version;
        var texts = values.ToList();
        var result = new GeneratedEmbeddings<Embedding<float>>(texts.Count);
        foreach (var chunk in texts.Chunk(ISearchGrain.MaxEmbedTexts))
        {
            var response = await _client.EmbedAsync(_collection, chunk, version, _kind, cancellationToken: cancellationToken).ConfigureAwait(false);
            foreach (var vector in response.Vectors)
            {
                if (options?.Dimensions is { } dimensions && dimensions != vector.Length)
                {
                    throw new InvalidOperationException(
                        $"Version {response.Version} of {_collection} makes {vector.Length}-dimensional embeddings; {dimensions} were asked for.");
                }

                result.Add(new Embedding<float>(vector) { ModelId = response.Version, CreatedAt = DateTimeOffset.UtcNow });
            }
        }

        return result;
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(EmbeddingGeneratorMetadata) ? Metadata
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
