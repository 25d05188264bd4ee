using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Streams;
using Orleans.Embeddings.Streaming.DeadLetters;
using Orleans.Embeddings.Streaming.Hosting;
using Orleans.Embeddings.Streaming.Kafka;
using Orleans.Embeddings.Streaming.PostgresLog;

namespace Orleans.Hosting;

/// <summary>Registers the document-change stream providers on a silo.</summary>
public static class StreamingSiloBuilderExtensions
{
    /// <summary>The agent cache size per queue the document-change providers use unless configured otherwise.</summary>
    public const int DefaultCacheSize = 512;

    /// <summary>
    /// Adds a persistent stream provider over the PostgreSQL log (the embedded default). <paramref name="configureProvider"/>
    /// tunes the pulling agent, cache and balancer. The silo needs the shared
    /// <c>NpgsqlDataSource</c> (<c>AddEmbeddingsStorage</c>), whose migrations create the log.
    /// </summary>
    public static ISiloBuilder AddPostgresLogStreams(
        this ISiloBuilder builder, string name, Action<OptionsBuilder<PostgresLogStreamOptions>>? configure = null, Action<ISiloPersistentStreamConfigurator>? configureProvider = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        PostgresLogStreamOptionsValidator.ValidateProviderName(name);
        var options = builder.Services.AddOptions<PostgresLogStreamOptions>(name);
        configure?.Invoke(options);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PostgresLogStreamOptions>, PostgresLogStreamOptionsValidator>());
        builder.Services.TryAddSingleton<DeadLetterStore>();
        options.ValidateOnStart();
        return builder.AddPersistentStreams(name, PostgresLogAdapterFactory.Create, c => ConfigureProvider(c, configureProvider));
    }

    /// <summary>
    /// Adds a persistent stream provider over a Kafka-protocol topic (Kafka, Redpanda, or Azure Event Hubs through
    /// its Kafka endpoint). Dead letters go to the PostgreSQL dead-letter table, so the silo needs <c>AddEmbeddingsStorage</c>.
    /// </summary>
    public static ISiloBuilder AddKafkaStreams(
        this ISiloBuilder builder, string name, Action<OptionsBuilder<KafkaStreamOptions>> configure, Action<ISiloPersistentStreamConfigurator>? configureProvider = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        PostgresLogStreamOptionsValidator.ValidateProviderName(name);
        var options = builder.Services.AddOptions<KafkaStreamOptions>(name);
        configure(options);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KafkaStreamOptions>, KafkaStreamOptionsValidator>());
        builder.Services.TryAddSingleton<DeadLetterStore>();
        options.ValidateOnStart();
        return builder.AddPersistentStreams(name, KafkaAdapterFactory.Create, c => ConfigureProvider(c, configureProvider));
    }

    /// <summary>
    /// Adds the document-change stream provider that <c>Embeddings:Streams</c> selects, bound to
    /// <c>Embeddings:Streams:Postgres</c> or <c>Embeddings:Streams:Kafka</c>.
    /// </summary>
    /// <exception cref="OptionsValidationException">The section names an unknown transport or provider name.</exception>
    public static ISiloBuilder AddDocumentChangeStreams(this ISiloBuilder builder, IConfiguration configuration, Action<ISiloPersistentStreamConfigurator>? configureProvider = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(DocumentStreamsOptions.SectionName);
        DocumentStreamsOptions streams;
        try
        {
            streams = section.Get<DocumentStreamsOptions>() ?? new DocumentStreamsOptions();
        }
        catch (InvalidOperationException ex)
        {
            throw new OptionsValidationException(
                DocumentStreamsOptions.SectionName, typeof(DocumentStreamsOptions),
                [$"{DocumentStreamsOptions.SectionName}:{nameof(DocumentStreamsOptions.Transport)} must be Postgres or Kafka: {ex.InnerException?.Message ?? ex.Message}"]);
        }

        try
        {
            PostgresLogStreamOptionsValidator.ValidateProviderName(streams.ProviderName);
        }
        catch (ArgumentException ex)
        {
            throw new OptionsValidationException(DocumentStreamsOptions.SectionName, typeof(DocumentStreamsOptions), [$"{DocumentStreamsOptions.SectionName}:{nameof(DocumentStreamsOptions.ProviderName)}: {ex.Message}"]);
        }

        return streams.Transport == DocumentStreamTransport.Kafka
            ? builder.AddKafkaStreams(streams.ProviderName, o => o.Bind(section.GetSection("Kafka")), configureProvider)
            : builder.AddPostgresLogStreams(streams.ProviderName, o => o.Bind(section.GetSection("Postgres")), configureProvider);
    }

    private static void ConfigureProvider(ISiloPersistentStreamConfigurator configurator, Action<ISiloPersistentStreamConfigurator>? configure)
    {
        // Only implicit subscriptions: no pub/sub grain storage is needed, and a document's consumer is its grain.
        configurator.ConfigureStreamPubSub(StreamPubSubType.ImplicitOnly);

        // Events stay in the agent's cache until delivered, so the cache size bounds the work in flight per queue.
        // Orleans' default (4096) lets a silo start far more embeddings than it finishes within a call's timeout,
        // and every timed-out delivery is redone; a smaller cache keeps the backlog in the log instead.
        configurator.Configure<SimpleQueueCacheOptions>(options => options.Configure(o => o.CacheSize = DefaultCacheSize));
        configure?.Invoke(configurator);
    }
}
