using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Orleans.Embeddings.Streaming.Kafka;

/// <summary>Topic metadata and creation through the Kafka admin API.</summary>
public static class KafkaTopics
{
    /// <summary>The partition count of <paramref name="topic"/>.</summary>
    /// <exception cref="InvalidOperationException">The topic does not exist or the brokers did not answer.</exception>
    public static int PartitionCount(string bootstrapServers, IReadOnlyDictionary<string, string>? config, string topic, TimeSpan timeout)
    {
        using var admin = Admin(bootstrapServers, config);
        var metadata = admin.GetMetadata(topic, timeout);
        var entry = metadata.Topics.FirstOrDefault(t => t.Topic == topic);
        if (entry is null || entry.Error.IsError || entry.Partitions.Count == 0)
        {
            throw new InvalidOperationException(
                $"Kafka topic '{topic}' is not available on {bootstrapServers}: {entry?.Error.Reason ?? "no metadata"}. Create it with the partition count the provider is configured with.");
        }

        return entry.Partitions.Count;
    }

    /// <summary>Creates <paramref name="topic"/> with <paramref name="partitions"/> partitions unless it exists.</summary>
    public static async Task EnsureAsync(string bootstrapServers, IReadOnlyDictionary<string, string>? config, string topic, int partitions, short replicationFactor = 1)
    {
        using var admin = Admin(bootstrapServers, config);
        try
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = partitions, ReplicationFactor = replicationFactor }]);
        }
        catch (CreateTopicsException ex) when (ex.Results.All(r => r.Error.Code is Confluent.Kafka.ErrorCode.TopicAlreadyExists or Confluent.Kafka.ErrorCode.NoError))
        {
        }
    }

    private static IAdminClient Admin(string bootstrapServers, IReadOnlyDictionary<string, string>? config) =>
        new AdminClientBuilder(new AdminClientConfig(config is null ? [] : new Dictionary<string, string>(config)) { BootstrapServers = bootstrapServers }).Build();
}
