using System.Text.Json;
using Npgsql;
using Orleans.Embeddings.Storage.Naming;
using Orleans.Embeddings.Storage.Notifications;

namespace Orleans.Embeddings.Storage.Routing;

/// <summary>
/// The routing table of every collection (migration 0004), the epochs silos acknowledge, and the notification
/// channel on which changes are pushed.
/// </summary>
public sealed class RoutingStore(NpgsqlDataSource dataSource)
{
    /// <summary>The PostgreSQL channel a routing change is notified on; the payload is the collection.</summary>
    public const string Channel = "embeddings_routing";

    /// <summary>The routing of a collection, or null when it has none.</summary>
    public async Task<RoutingRecord?> GetAsync(string collection, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT collection, epoch, write_targets, traffic::text FROM embeddings_routing WHERE collection = @collection");
        command.Parameters.AddWithValue("collection", collection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    /// <summary>The routing of every collection.</summary>
    public async Task<IReadOnlyList<RoutingRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT collection, epoch, write_targets, traffic::text FROM embeddings_routing ORDER BY collection");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var records = new List<RoutingRecord>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            records.Add(Read(reader));
        }

        return records;
    }

    /// <summary>
    /// Replaces the routing of a collection and bumps its epoch, if the stored epoch is still <paramref name="expectedEpoch"/>
    /// (0 for a collection without routing). Returns the new record, or null when another writer changed it first.
    /// </summary>
    /// <exception cref="ArgumentException">A version name is invalid, there is no write target, or the traffic does not sum to 100.</exception>
    public async Task<RoutingRecord?> SetAsync(
        string collection, long expectedEpoch, IReadOnlyList<string> writeTargets, IReadOnlyDictionary<string, int> traffic, CancellationToken cancellationToken = default)
    {
        StorageNames.Validate(collection, "collection");
        ArgumentNullException.ThrowIfNull(writeTargets);
        ArgumentNullException.ThrowIfNull(traffic);
        foreach (var version in writeTargets.Concat(traffic.Keys))
        {
            StorageNames.Validate(version, "version");
        }

        if (writeTargets.Count == 0)
        {
            throw new ArgumentException($"The routing of {collection} needs at least one write target.", nameof(writeTargets));
        }

        if (traffic.Count > 0 && (traffic.Values.Any(w => w < 0) || traffic.Values.Sum() != 100))
        {
            throw new ArgumentException($"The traffic weights of {collection} must be non-negative and sum to 100 (were {JsonSerializer.Serialize(traffic)}).", nameof(traffic));
        }

        await using var command = dataSource.CreateCommand(expectedEpoch == 0
            ? """
              INSERT INTO embeddings_routing (collection, epoch, write_targets, traffic)
              VALUES (@collection, 1, @targets, @traffic::jsonb)
              ON CONFLICT (collection) DO NOTHING
              RETURNING collection, epoch, write_targets, traffic::text
              """
            : """
              UPDATE embeddings_routing
                 SET epoch = epoch + 1, write_targets = @targets, traffic = @traffic::jsonb, updated_at = now()
               WHERE collection = @collection AND epoch = @expected
              RETURNING collection, epoch, write_targets, traffic::text
              """);
        command.Parameters.AddWithValue("collection", collection);
        command.Parameters.AddWithValue("expected", expectedEpoch);
        command.Parameters.AddWithValue("targets", writeTargets.ToArray());
        command.Parameters.AddWithValue("traffic", JsonSerializer.Serialize(traffic));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    /// <summary>Records that <paramref name="silo"/> routes <paramref name="collection"/> by <paramref name="epoch"/> (never moves backwards).</summary>
    public async Task AcknowledgeAsync(string collection, string silo, long epoch, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            """
            INSERT INTO embeddings_routing_acks AS a (collection, silo, epoch) VALUES (@collection, @silo, @epoch)
            ON CONFLICT (collection, silo) DO UPDATE SET epoch = EXCLUDED.epoch, acked_at = now() WHERE a.epoch < EXCLUDED.epoch
            """);
        command.Parameters.AddWithValue("collection", collection);
        command.Parameters.AddWithValue("silo", silo);
        command.Parameters.AddWithValue("epoch", epoch);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The epoch each silo has acknowledged for a collection.</summary>
    public async Task<IReadOnlyDictionary<string, long>> GetAcknowledgementsAsync(string collection, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT silo, epoch FROM embeddings_routing_acks WHERE collection = @collection");
        command.Parameters.AddWithValue("collection", collection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var acks = new Dictionary<string, long>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            acks[reader.GetString(0)] = reader.GetInt64(1);
        }

        return acks;
    }

    /// <summary>
    /// Listens for routing changes until cancelled, calling <paramref name="onChanged"/> with the collection of each, and
    /// reconnecting after a lost connection (reported to <paramref name="onLost"/>); changes made meanwhile are missed, so
    /// the caller re-reads the routing each time the listener is in place again (<paramref name="onListening"/>) and also polls.
    /// </summary>
    public Task ListenAsync(Func<string, Task> onChanged, Action? onListening, Action<Exception> onLost, CancellationToken cancellationToken) =>
        PostgresChannel.ListenAsync(dataSource, Channel, onChanged, onListening, onLost, cancellationToken);

    private static RoutingRecord Read(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.GetInt64(1),
        reader.GetFieldValue<string[]>(2),
        JsonSerializer.Deserialize<Dictionary<string, int>>(reader.GetString(3)) ?? []);
}
