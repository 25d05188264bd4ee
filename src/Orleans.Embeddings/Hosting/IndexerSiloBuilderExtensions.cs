using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Embeddings.Collections;
using Orleans.Embeddings.Devices;
using Orleans.Embeddings.Hosting;
using Orleans.Embeddings.Routing;
using Orleans.Embeddings.Rollouts;
using Orleans.Embeddings.Storage.Documents;
using Orleans.Embeddings.Storage.Reconciliation;
using Orleans.Embeddings.Storage.Rollouts;
using Orleans.Embeddings.Storage.Routing;
using Orleans.Embeddings.Storage.Vectors;
using Orleans.Embeddings.Storage.Versions;
using Orleans.Configuration;
using Orleans.Embeddings.Workers;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Orleans.Hosting;

/// <summary>Adds the indexing pipeline (document grains, embedding workers, routing) to a silo.</summary>
public static class IndexerSiloBuilderExtensions
{
    /// <summary>
    /// Adds the indexer with options bound from <paramref name="section"/> (normally <c>Embeddings:Indexer</c>). The silo also
    /// needs <c>AddEmbeddingsStorage</c> and a document-change stream provider (<c>AddDocumentChangeStreams</c>).
    /// </summary>
    public static ISiloBuilder AddEmbeddingIndexer(this ISiloBuilder builder, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        return builder.AddEmbeddingIndexer(section.Bind);
    }

    /// <summary>Adds the indexer configured by <paramref name="configure"/>.</summary>
    /// <exception cref="OptionsValidationException">An option is invalid; the message names it.</exception>
    public static ISiloBuilder AddEmbeddingIndexer(this ISiloBuilder builder, Action<IndexerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var probe = new IndexerOptions();
        configure?.Invoke(probe);
        var validation = new IndexerOptionsValidator().Validate(null, probe);
        if (validation.Failed)
        {
            throw new OptionsValidationException(IndexerOptions.SectionName, typeof(IndexerOptions), validation.Failures);
        }

        var services = builder.Services;
        services.AddOptions<IndexerOptions>().Configure(o => configure?.Invoke(o)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<IndexerOptions>, IndexerOptionsValidator>());

        // A delivery waits for its embedding behind the worker's queue; with an inference-bound model that can take
        // longer than Orleans' 30 s default, and a timed-out delivery is redone (work amplification).
        builder.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = probe.DeliveryTimeout);

        // Other silos learn this silo's devices from its metadata.
        builder.UseSiloMetadata(new Dictionary<string, string> { [DeviceDirectory.MetadataKey] = string.Join(',', probe.EffectiveDevices) });
        services.AddPlacementDirector<DevicePlacement, DevicePlacementDirector>();
        builder.AddIncomingGrainCallFilter<DatabaseFailureCallFilter>();
        services.AddPlacementDirector<LoadRangePlacement, LoadRangePlacementDirector>();

        services.TryAddSingleton<DocumentStore>();
        services.TryAddSingleton<Orleans.Embeddings.Documents.DocumentWriteBatcher>();
        services.TryAddSingleton<EmbeddingTableWriter>();
        services.TryAddSingleton<CollectionCatalog>();
        services.TryAddSingleton<RoutingStore>();
        services.TryAddSingleton<CollectionSetup>();
        services.TryAddSingleton<Orleans.Embeddings.Collections.VersionIndexes>();
        services.TryAddSingleton<DeviceDirectory>();
        services.TryAddSingleton<ModelSessions>();
        services.TryAddSingleton<WorkerRouter>();
        services.TryAddSingleton<Orleans.Embeddings.Rollouts.LoadPageGate>();
        services.TryAddSingleton<LocalWorkers>();
        services.TryAddSingleton<RoutingCache>();
        services.TryAddSingleton<Orleans.Embeddings.Search.VersionTableCache>();
        services.TryAddSingleton<Orleans.Embeddings.Search.SearchExecutor>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Orleans.Embeddings.Search.SearchExecutor>());
        services.TryAddSingleton<Orleans.Embeddings.Storage.Search.SearchLog>();
        services.TryAddSingleton<Orleans.Embeddings.Search.SearchRecorder>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Orleans.Embeddings.Search.SearchRecorder>());
        services.TryAddSingleton<Orleans.Embeddings.Storage.Search.VectorSearch>();
        services.TryAddSingleton<Orleans.Embeddings.Storage.Search.VersionCoverage>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<RoutingCache>());

        // Rollouts: the coordinators' state, shard checkpoints, reconciliation and index builds, and the supervisor
        // that wakes coordinators with work in progress.
        services.TryAddSingleton<CoordinatorStateStore>();
        services.TryAddSingleton<LoadCheckpointStore>();
        services.TryAddSingleton<ReconciliationQueries>();
        services.TryAddSingleton<HnswIndexBuilder>();
        services.TryAddSingleton(sp => new Orleans.Embeddings.Storage.Search.EfSearchTuner(
            sp.GetRequiredService<Npgsql.NpgsqlDataSource>(),
            sp.GetRequiredService<IOptions<IndexerOptions>>().Value.Rollouts.ToEfSearchTunerOptions(),
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<Orleans.Embeddings.Storage.Search.EfSearchTuner>>()));
        services.TryAddSingleton<RolloutSupervisor>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<RolloutSupervisor>());
        return builder;
    }
}
