using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Embeddings.Client.Search;
using Orleans.Embeddings.Search;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the search SDK next to an Orleans client (<c>UseOrleansClient</c>).</summary>
public static class EmbeddingSearchServiceCollectionExtensions
{
    /// <summary>Registers <see cref="EmbeddingSearchClient"/> (a singleton over the Orleans client) and its options.</summary>
    public static IServiceCollection AddEmbeddingSearchClient(this IServiceCollection services, Action<EmbeddingSearchOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<EmbeddingSearchOptions>()
            .Validate(o => o.DefaultK is >= 1 and <= SearchRequest.MaxK, $"{EmbeddingSearchOptions.SectionName}:DefaultK must be between 1 and {SearchRequest.MaxK}.")
            .Validate(o => o.EfSearch is null or >= 1 and <= SearchRequest.MaxK, $"{EmbeddingSearchOptions.SectionName}:EfSearch must be between 1 and {SearchRequest.MaxK}.")
            .ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddSingleton<EmbeddingSearchClient>();
        return services;
    }

    /// <summary>
    /// Registers an <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> that embeds with <paramref name="version"/> of
    /// <paramref name="collection"/> through the cluster (and the search client it needs).
    /// </summary>
    public static IServiceCollection AddClusterEmbeddingGenerator(this IServiceCollection services, string collection, string version, TextKind kind = TextKind.Query)
    {
        services.AddEmbeddingSearchClient();
        services.TryAddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(sp =>
            new ClusterEmbeddingGenerator(sp.GetRequiredService<EmbeddingSearchClient>(), collection, version, kind));
        return services;
    }
}
