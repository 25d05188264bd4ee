using Orleans.Embeddings.Inference.Batching;

namespace Orleans.Embeddings.Hosting;

/// <summary>Settings of the indexer on one silo (section <c>Embeddings:Indexer</c>).</summary>
public sealed class IndexerOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Embeddings:Indexer";

    /// <summary>The devices this silo owns: <c>cpu</c>, <c>cuda:0</c>, … (<c>cpu</c> when none are given).</summary>
    public List<string> Devices { get; set; } = [];

    /// <summary>
    /// Whether this silo hosts embedding workers (true by default). A silo with <c>false</c> declares no device: its
    /// document grains, coordinators and searches call the workers of the other silos.
    /// </summary>
    public bool HostsWorkers { get; set; } = true;

    /// <summary>
    /// Dynamic batching of each worker. The defaults suit a CPU: runs of 8 length-sorted texts, one document runner per
    /// core (with <see cref="IntraOpThreads"/> 1). On the Debian corpus with minilm-l6 on 2 cores that embeds about 30 %
    /// more than runs of 32 on both cores. For a GPU, raise <c>MaxBatchSize</c> and set <c>DocumentRunners</c> to 1.
    /// </summary>
    public DynamicBatcherOptions Batching { get; set; } = new() { MaxBatchSize = 8, DocumentRunners = Environment.ProcessorCount };

    /// <summary>Threads one ONNX Runtime session may use for one operator (0: ONNX Runtime's default, one per core).</summary>
    public int IntraOpThreads { get; set; } = 1;

    /// <summary>How the version coordinator runs rollouts.</summary>
    public Orleans.Embeddings.Rollouts.RolloutOptions Rollouts { get; set; } = new();

    /// <summary>Search logging and shadow comparison.</summary>
    public Orleans.Embeddings.Search.SearchOptions Search { get; set; } = new();

    /// <summary>Whether ONNX Runtime's threads spin while waiting (off by default: the silo shares its cores with streams and PostgreSQL).</summary>
    public bool OnnxSpinning { get; set; }

    /// <summary>The most rows a worker writes in one statement.</summary>
    public int MaxWriteBatch { get; set; } = 512;

    /// <summary>How often routing is re-read even without a notification.</summary>
    public TimeSpan RoutingPollInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many times a document grain tries other workers when a call fails because a silo left.</summary>
    public int WorkerRetries { get; set; } = 3;

    /// <summary>
    /// How long a grain call (a stream delivery among them) may take before it times out: a change waits for its
    /// embedding behind the worker's queue, which with an encoder on a CPU can take minutes under load.
    /// </summary>
    public TimeSpan DeliveryTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The devices in effect: none when the silo hosts no workers, else <see cref="Devices"/> or <c>cpu</c>.</summary>
    public IReadOnlyList<string> EffectiveDevices => !HostsWorkers ? [] : Devices.Count == 0 ? ["cpu"] : Devices;
}
