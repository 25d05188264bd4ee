using Orleans.Embeddings.Streaming.Events;

namespace Orleans.Embeddings.Streaming.Kafka;

/// <summary>
/// Settings of a Kafka-protocol stream provider (section <c>Embeddings:Streams:Kafka</c>). Azure Event Hubs works
/// through its Kafka endpoint with configuration only: bootstrap <c>&lt;namespace&gt;.servicebus.windows.net:9093</c>
/// and, in <see cref="Config"/>, <c>security.protocol=SASL_SSL</c>, <c>sasl.mechanism=PLAIN</c>,
/// <c>sasl.username=$ConnectionString</c>, <c>sasl.password=&lt;the connection string&gt;</c>.
/// </summary>
public sealed class KafkaStreamOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Embeddings:Streams:Kafka";

    /// <summary>The brokers, <c>host:port[,host:port]</c>.</summary>
    public string BootstrapServers { get; set; } = string.Empty;

    /// <summary>The topic of document changes.</summary>
    public string Topic { get; set; } = "document-changes";

    /// <summary>The topic's partition count; each partition is one Orleans queue. Checked against the broker at start-up.</summary>
    public int Partitions { get; set; } = 8;

    /// <summary>The consumer group under which committed offsets are stored (partitions are assigned by Orleans, not by the group).</summary>
    public string ConsumerGroup { get; set; } = "orleans-embeddings";

    /// <summary>Extra librdkafka settings for consumers and producers (security, SASL, timeouts).</summary>
    public Dictionary<string, string> Config { get; set; } = [];

    /// <summary>Size limits of events; an event over one is dead-lettered with the reason.</summary>
    public DocumentChangeLimits Limits { get; set; } = new();

    /// <summary>How long start-up waits for the broker's metadata and committed offsets.</summary>
    public TimeSpan MetadataTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
