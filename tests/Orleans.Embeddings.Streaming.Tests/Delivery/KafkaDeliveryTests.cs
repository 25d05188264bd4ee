using Npgsql;
using Orleans.Embeddings.Client.Publishing;
using Orleans.Embeddings.Testing;
using Orleans.Hosting;

namespace Orleans.Embeddings.Streaming.Tests.Delivery;

/// <summary>The delivery scenarios over Kafka, against librdkafka's mock cluster.</summary>
public sealed class KafkaDeliveryTests(MigratedPostgresDatabase database) : StreamDeliveryScenarios, IClassFixture<MigratedPostgresDatabase>, IDisposable
{
    private const string Topic = "document-changes";
    private readonly KafkaMockCluster _kafka = StartKafka();

    /// <inheritdoc />
    protected override string Provider => "kafka";

    /// <inheritdoc />
    protected override NpgsqlDataSource DataSource => database.DataSource;

    /// <inheritdoc />
    protected override void AddStreams(ISiloBuilder silo, TimeSpan maxEventDeliveryTime) =>
        silo.AddKafkaStreams(
            Provider,
            o => o.Configure(options =>
            {
                options.BootstrapServers = _kafka.BootstrapServers;
                options.Topic = Topic;
                options.Partitions = 8;
                options.Limits.MaxContentBytes = MaxContentBytes;
            }),
            p => p.ConfigurePullingAgent(o => o.Configure(a => a.MaxEventDeliveryTime = maxEventDeliveryTime)));

    /// <inheritdoc />
    protected override IDocumentChangePublisher CreatePublisher() => new KafkaPublisher(_kafka.BootstrapServers, Topic);

    /// <inheritdoc />
    public void Dispose() => _kafka.Dispose();

    private static KafkaMockCluster StartKafka()
    {
        var kafka = KafkaMockCluster.Start();
        kafka.CreateTopic(Topic, 8);
        return kafka;
    }
}
