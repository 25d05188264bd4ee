using Confluent.Kafka;

namespace Orleans.Embeddings.Streaming.Kafka;

/// <summary>The librdkafka settings the provider and the publisher use, on top of the user's.</summary>
public static class KafkaClientConfig
{
    /// <summary>Settings the provider owns; setting them in <see cref="KafkaStreamOptions.Config"/> is refused.</summary>
    public static readonly IReadOnlyList<string> ManagedKeys =
        ["group.id", "enable.auto.commit", "enable.auto.offset.store", "enable.idempotence", "bootstrap.servers"];

    /// <summary>A consumer that never commits on its own: offsets move only when events are acknowledged.</summary>
    public static ConsumerConfig Consumer(KafkaStreamOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var config = new ConsumerConfig(new Dictionary<string, string>(options.Config))
        {
            BootstrapServers = options.BootstrapServers,
            GroupId = options.ConsumerGroup,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnablePartitionEof = false,
        };

        // librdkafka waits up to 500 ms for a fetch to fill; a change feed wants it sooner (overridable in Config).
        if (!options.Config.ContainsKey("fetch.wait.max.ms"))
        {
            config.FetchWaitMaxMs = 50;
        }

        return config;
    }

    /// <summary>An idempotent producer that waits for all in-sync replicas.</summary>
    public static ProducerConfig Producer(string bootstrapServers, IReadOnlyDictionary<string, string>? config = null)
    {
        return new ProducerConfig(config is null ? [] : new Dictionary<string, string>(config))
        {
            BootstrapServers = bootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 5,
        };
    }
}
