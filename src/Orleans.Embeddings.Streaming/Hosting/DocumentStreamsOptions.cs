namespace Orleans.Embeddings.Streaming.Hosting;

/// <summary>Which transport carries document changes into the cluster (section <c>Embeddings:Streams</c>).</summary>
public sealed class DocumentStreamsOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Embeddings:Streams";

    /// <summary>The default stream provider name, which producers name too.</summary>
    public const string DefaultProviderName = "documents";

    /// <summary>The transport.</summary>
    public DocumentStreamTransport Transport { get; set; } = DocumentStreamTransport.Postgres;

    /// <summary>The stream provider's name (also the PostgreSQL log's provider key and the dead letters' provider).</summary>
    public string ProviderName { get; set; } = DefaultProviderName;
}

/// <summary>The event-log transports.</summary>
public enum DocumentStreamTransport
{
    /// <summary>The log table in the cluster's PostgreSQL (embedded default).</summary>
    Postgres,

    /// <summary>A Kafka-protocol topic: Kafka, Redpanda, or Azure Event Hubs' Kafka endpoint.</summary>
    Kafka,
}
