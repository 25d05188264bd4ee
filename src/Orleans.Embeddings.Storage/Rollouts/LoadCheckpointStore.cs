using Npgsql;
using NpgsqlTypes;

namespace Orleans.Embeddings.Storage.Rollouts;

/// <summary>The cursors of the shard ranges of a load or reconciliation run (migration 0005).</summary>
public sealed class LoadCheckpointStore(NpgsqlDataSource dataSource)
{
    /// <summary>The checkpoint of one range, or null when it never started.</summary>
    public async Task<LoadCheckpoint?> GetAsync(string collection, string version, string runId, int rangeIndex, CancellationToken cancellationToken = default) =>
        (await ListAsync(collection, version, runId, rangeIndex, cancellationToken).ConfigureAwait(false)).SingleOrDefault();

    /// <summary>The checkpoints of every range of a run.</summary>
    public Task<IReadOnlyList<LoadCheckpoint>> ListAsync(string collection, string version, string runId, CancellationToken cancellationToken = default) =>
        ListAsync(collection, version, runId, null, cancellationToken);

    /// <summary>
    /// Starts <paramref name="pass"/> of a range at its first shard, unless the range is already at that pass or a later
    /// one (then it keeps its cursor). Returns the checkpoint to continue from.
    /// </summary>
    public async Task<LoadCheckpoint> BeginPassAsync(string collection, string version, string runId, int rangeIndex, int pass, int firstShard, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            """
            INSERT INTO embeddings_load_checkpoints AS c (collection, version, run_id, range_index, pass, next_shard)
            VALUES (@collection, @version, @run, @range, @pass, @first)
            ON CONFLICT (collection, version, run_id, range_index) DO UPDATE
               SET pass = EXCLUDED.pass, next_shard = EXCLUDED.next_shard, after_id = NULL, done = false, written = 0, pages = 0, updated_at = now()
             WHERE c.pass < EXCLUDED.pass
            """);
        command.Parameters.AddWithValue("collection", collection);
        command.Parameters.AddWithValue("version", version);
        command.Parameters.AddWithValue("run", runId);
        command.Parameters.AddWithValue("range", rangeIndex);
        command.Parameters.AddWithValue("pass", pass);
        command.Parameters.AddWithValue("first", firstShard);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return await GetAsync(collection, version, runId, rangeIndex, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"The checkpoint of range {rangeIndex} of run {runId} vanished.");
    }

    /// <summary>Counts one more resumption of a range from a stored cursor.</summary>
    public async Task MarkResumedAsync(string collection, string version, string runId, int rangeIndex, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "UPDATE embeddings_load_checkpoints SET resumes = resumes + 1 WHERE collection = @collection AND version = @version AND run_id = @run AND range_index = @range");
        AddKey(command, collection, version, runId, rangeIndex);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Moves a range's cursor after a committed page (or to the next shard, or to done), adding what the page wrote,
    /// if the range is still at <paramref name="pass"/>. Returns false when the range moved on without this writer.
    /// </summary>
    public async Task<bool> AdvanceAsync(
        string collection, string version, string runId, int rangeIndex, int pass, int nextShard, string? afterId, bool done, long written, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            """
            UPDATE embeddings_load_checkpoints
               SET next_shard = @next, after_id = @after, done = @done, written = written + @written, pages = pages + 1, updated_at = now()
             WHERE collection = @collection AND version = @version AND run_id = @run AND range_index = @range AND pass = @pass
            """);
        AddKey(command, collection, version, runId, rangeIndex);
        command.Parameters.AddWithValue("pass", pass);
        command.Parameters.AddWithValue("next", nextShard);
        command.Parameters.Add(new NpgsqlParameter("after", NpgsqlDbType.Text) { Value = (object?)afterId ?? DBNull.Value });
        command.Parameters.AddWithValue("done", done);
        command.Parameters.AddWithValue("written", written);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <summary>Forgets the checkpoints of a run (after it ended).</summary>
    public async Task DeleteRunAsync(string collection, string version, string runId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "DELETE FROM embeddings_load_checkpoints WHERE collection = @collection AND version = @version AND run_id = @run");
        command.Parameters.AddWithValue("collection", collection);
        command.Parameters.AddWithValue("version", version);
        command.Parameters.AddWithValue("run", runId);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<IReadOnlyList<LoadCheckpoint>> ListAsync(string collection, string version, string runId, int? rangeIndex, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            """
            SELECT range_index, pass, next_shard, after_id, done, written, pages, resumes FROM embeddings_load_checkpoints
             WHERE collection = @collection AND version = @version AND run_id = @run AND (@range::integer IS NULL OR range_index = @range)
             ORDER BY range_index
            """);
        command.Parameters.AddWithValue("collection", collection);
        command.Parameters.AddWithValue("version", version);
        command.Parameters.AddWithValue("run", runId);
        command.Parameters.Add(new NpgsqlParameter("range", NpgsqlDbType.Integer) { Value = (object?)rangeIndex ?? DBNull.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var checkpoints = new List<LoadCheckpoint>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            checkpoints.Add(new LoadCheckpoint(
                reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetBoolean(4), reader.GetInt64(5), reader.GetInt64(6), reader.GetInt32(7)));
        }

        return checkpoints;
    }

    private static void AddKey(NpgsqlCommand command, string collection, string version, string runId, int rangeIndex)
    {
        command.Parameters.AddWithValue("collection", collection);
        command.Parameters.AddWithValue("version", version);
        command.Parameters.AddWithValue("run", runId);
        command.Parameters.AddWithValue("range", rangeIndex);
    }
}
