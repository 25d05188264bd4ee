using Npgsql;

namespace Orleans.Embeddings.Storage.Rollouts;

/// <summary>
/// The durable state of each collection's version coordinator (migration 0005), as JSON with a revision: a write
/// succeeds only over the revision it read, so two activations of one coordinator cannot both advance it.
/// </summary>
public sealed class CoordinatorStateStore(NpgsqlDataSource dataSource)
{
    /// <summary>The stored state and its revision, or null when the coordinator has never written one.</summary>
    public async Task<(string Json, long Revision)?> ReadAsync(string collection, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT state::text, revision FROM embeddings_coordinators WHERE collection = @collection");
        command.Parameters.AddWithValue("collection", collection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? (reader.GetString(0), reader.GetInt64(1)) : null;
    }

    /// <summary>
    /// Writes the state if the stored revision is still <paramref name="expectedRevision"/> (0: none stored yet).
    /// Returns the new revision, or null when another writer got there first.
    /// </summary>
    public async Task<long?> WriteAsync(string collection, long expectedRevision, string json, bool active, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(expectedRevision == 0
            ? """
              INSERT INTO embeddings_coordinators (collection, state, revision, active) VALUES (@collection, @state::jsonb, 1, @active)
              ON CONFLICT (collection) DO NOTHING
              RETURNING revision
              """
            : """
              UPDATE embeddings_coordinators SET state = @state::jsonb, revision = revision + 1, active = @active, updated_at = now()
               WHERE collection = @collection AND revision = @expected
              RETURNING revision
              """);
        command.Parameters.AddWithValue("collection", collection);
        command.Parameters.AddWithValue("expected", expectedRevision);
        command.Parameters.AddWithValue("state", json);
        command.Parameters.AddWithValue("active", active);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as long?;
    }

    /// <summary>Collections whose coordinator has a rollout or repair in progress.</summary>
    public async Task<IReadOnlyList<string>> ListActiveAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT collection FROM embeddings_coordinators WHERE active ORDER BY collection");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var collections = new List<string>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            collections.Add(reader.GetString(0));
        }

        return collections;
    }
}
