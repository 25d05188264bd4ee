using System.Runtime.InteropServices;
using System.Text;

namespace Orleans.Embeddings.Testing;

/// <summary>
/// librdkafka's own mock cluster: a real Kafka-protocol server on loopback, started in-process through the
/// librdkafka that Confluent.Kafka ships and loads (the very same native file, found in this process's mappings).
/// </summary>
public sealed partial class KafkaMockCluster : IDisposable
{
    private const int ProducerType = 0;
    private static readonly Lazy<nint> s_library = new(LoadLibrary);
    private nint _handle;
    private nint _cluster;

    private KafkaMockCluster(nint handle, nint cluster, string bootstrapServers)
    {
        _handle = handle;
        _cluster = cluster;
        BootstrapServers = bootstrapServers;
    }

    /// <summary>The cluster's bootstrap servers (host:port list).</summary>
    public string BootstrapServers { get; }

    /// <summary>The path of the native librdkafka in use.</summary>
    public static string LibraryPath { get; private set; } = string.Empty;

    /// <summary>Starts a mock cluster with <paramref name="brokers"/> brokers.</summary>
    public static KafkaMockCluster Start(int brokers = 1)
    {
        _ = s_library.Value;
        var conf = NativeMethods.rd_kafka_conf_new();
        var error = new byte[512];
        var handle = NativeMethods.rd_kafka_new(ProducerType, conf, error, (nuint)error.Length);
        if (handle == 0)
        {
            throw new InvalidOperationException($"rd_kafka_new failed: {Encoding.UTF8.GetString(error).TrimEnd('\0')}");
        }

        var cluster = NativeMethods.rd_kafka_mock_cluster_new(handle, brokers);
        if (cluster == 0)
        {
            NativeMethods.rd_kafka_destroy(handle);
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed.");
        }

        var bootstraps = Marshal.PtrToStringUTF8(NativeMethods.rd_kafka_mock_cluster_bootstraps(cluster))
            ?? throw new InvalidOperationException("The mock cluster reported no bootstrap servers.");
        return new KafkaMockCluster(handle, cluster, bootstraps);
    }

    /// <summary>Creates a topic with <paramref name="partitions"/> partitions.</summary>
    public void CreateTopic(string topic, int partitions)
    {
        var code = NativeMethods.rd_kafka_mock_topic_create(_cluster, topic, partitions, 1);
        if (code != 0)
        {
            throw new InvalidOperationException($"rd_kafka_mock_topic_create('{topic}', {partitions}) failed with error {code}.");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_cluster != 0)
        {
            NativeMethods.rd_kafka_mock_cluster_destroy(_cluster);
            _cluster = 0;
        }

        if (_handle != 0)
        {
            NativeMethods.rd_kafka_destroy(_handle);
            _handle = 0;
        }
    }

    private static nint LoadLibrary()
    {
        // Make Confluent.Kafka load its native library first, then bind to the file it mapped.
        _ = Confluent.Kafka.Library.Version;
        var path = File.ReadLines("/proc/self/maps")
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(parts => parts.Length >= 6 && parts[5].Contains("librdkafka", StringComparison.Ordinal))
            .Select(parts => parts[5])
            .FirstOrDefault()
            ?? throw new InvalidOperationException("Confluent.Kafka did not map a librdkafka into this process.");
        LibraryPath = path;
        var library = NativeLibrary.Load(path);
        NativeLibrary.SetDllImportResolver(typeof(KafkaMockCluster).Assembly, (name, _, _) => name == NativeMethods.Library ? library : 0);
        return library;
    }

    private static partial class NativeMethods
    {
        public const string Library = "librdkafka";

        [LibraryImport(Library)]
        public static partial nint rd_kafka_conf_new();

        [LibraryImport(Library)]
        public static partial nint rd_kafka_new(int type, nint conf, [Out] byte[] errstr, nuint errstrSize);

        [LibraryImport(Library)]
        public static partial void rd_kafka_destroy(nint rk);

        [LibraryImport(Library)]
        public static partial nint rd_kafka_mock_cluster_new(nint rk, int brokerCount);

        [LibraryImport(Library)]
        public static partial nint rd_kafka_mock_cluster_bootstraps(nint cluster);

        [LibraryImport(Library)]
        public static partial void rd_kafka_mock_cluster_destroy(nint cluster);

        [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int rd_kafka_mock_topic_create(nint cluster, string topic, int partitionCount, int replicationFactor);
    }
}
