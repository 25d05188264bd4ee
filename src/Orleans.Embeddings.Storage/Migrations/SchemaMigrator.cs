using Microsoft.Extensions.Logging;
using Npgsql;

namespace Orleans.Embeddings.Storage.Migrations;

/// <summary>
/// Applies the versioned migrations to a database, once, even when several silos start at the same time.
/// </summary>
/// <remarks>
/// Everything happens in one transaction that first takes a transaction-scoped advisory lock: a second
/// silo blocks on the lock until the first commits, then reads the history the first one wrote and finds
/// nothing left to do. A failing migration rolls the whole batch back, so the history never claims a
/// version whose script did not complete.
/// </remarks>
public sealed partial class SchemaMigrator
{
    /// <summary>The schema-history table; one row per applied migration.</summary>
    public const string HistoryTable = "embeddings_schema_history";

    // An arbitrary constant shared by every process of this project: 'oemb' 'schm' as ASCII.
    private const long AdvisoryLockKey = 0x6F656D62_7363686D;

    private readonly NpgsqlDataSource _dataSource;
    private readonly ILogger<SchemaMigrator> _logger;
    private readonly IReadOnlyList<MigrationScript> _scripts;

    /// <summary>Creates a migrator for the migrations embedded in this assembly.</summary>
    public SchemaMigrator(NpgsqlDataSource dataSource, ILogger<SchemaMigrator> logger)
        : this(dataSource, logger, EmbeddedMigrations.All)
    {
    }

    /// <summary>Creates a migrator for the given scripts (ordered by version, unique versions).</summary>
    public SchemaMigrator(NpgsqlDataSource dataSource, ILogger<SchemaMigrator> logger, IReadOnlyList<MigrationScript> scripts)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(scripts);
        _dataSource = dataSource;
        _logger = logger;
        _scripts = [.. scripts.OrderBy(s => s.Version)];
    }

    /// <summary>The highest version among this migrator's scripts.</summary>
    public int LatestVersion => _scripts.Count == 0 ? 0 : _scripts[^1].Version;

    /// <summary>Applies every migration the database has not recorded yet and returns the ones applied.</summary>
    /// <exception cref="InvalidOperationException">An applied migration's script has changed since it was applied.</exception>
    public async Task<IReadOnlyList<MigrationScript>> MigrateAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", connection, transaction))
        {
            lockCommand.Parameters.AddWithValue("key", AdvisoryLockKey);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var createHistory = new NpgsqlCommand(
            $"""
            CREATE TABLE IF NOT EXISTS {HistoryTable} (
                version     integer     PRIMARY KEY,
                name        text        NOT NULL,
                checksum    text        NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )
            """, connection, transaction))
        {
            await createHistory.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var applied = await ReadHistoryAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        var pending = new List<MigrationScript>();
        foreach (var script in _scripts)
        {
            if (applied.TryGetValue(script.Version, out var checksum))
            {
                if (!string.Equals(checksum, script.Checksum, StringComparison.Ordinal))
                {
                    throw new InvalidOperationException(
                        $"Migration {script.Version:D4}_{script.Name} was changed after it was applied to this database " +
                        $"(recorded checksum {checksum}, embedded {script.Checksum}). Applied migrations must never be edited; add a new migration instead.");
                }

                continue;
            }

            pending.Add(script);
        }

        var newest = applied.Count == 0 ? 0 : applied.Keys.Max();
        if (newest > LatestVersion)
        {
            LogDatabaseAhead(_logger, newest, LatestVersion);
        }

        foreach (var script in pending)
        {
            LogApplying(_logger, script.Version, script.Name);
            try
            {
                await using var command = new NpgsqlCommand(script.Sql, connection, transaction);
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException ex)
            {
                throw new InvalidOperationException(
                    $"Migration {script.Version:D4}_{script.Name} failed: {ex.MessageText} (SQLSTATE {ex.SqlState}). No migration of this batch was applied.",
                    ex);
            }

            await using var record = new NpgsqlCommand(
                $"INSERT INTO {HistoryTable} (version, name, checksum) VALUES (@version, @name, @checksum)", connection, transaction);
            record.Parameters.AddWithValue("version", script.Version);
            record.Parameters.AddWithValue("name", script.Name);
            record.Parameters.AddWithValue("checksum", script.Checksum);
            await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        if (pending.Count > 0)
        {
            // A migration may have created types (the vector extension): the data source loaded its
            // type catalogue on its first connection, before they existed, and must see them now.
            await connection.ReloadTypesAsync(cancellationToken).ConfigureAwait(false);
        }

        LogUpToDate(_logger, LatestVersion, pending.Count);
        return pending;
    }

    /// <summary>Reads which version the database is at, without changing anything.</summary>
    public async Task<SchemaStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var exists = new NpgsqlCommand("SELECT to_regclass(@table) IS NOT NULL", connection);
        exists.Parameters.AddWithValue("table", HistoryTable);
        if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not true)
        {
            return new SchemaStatus(0, LatestVersion, _scripts.Count);
        }

        var applied = await ReadHistoryAsync(connection, null, cancellationToken).ConfigureAwait(false);
        var missing = _scripts.Count(s => !applied.ContainsKey(s.Version));
        return new SchemaStatus(applied.Count == 0 ? 0 : applied.Keys.Max(), LatestVersion, missing);
    }

    private static async Task<Dictionary<int, string>> ReadHistoryAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        var applied = new Dictionary<int, string>();
        await using var command = new NpgsqlCommand($"SELECT version, checksum FROM {HistoryTable}", connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            applied[reader.GetInt32(0)] = reader.GetString(1);
        }

        return applied;
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Applying schema migration {Version:D4}_{Name}")]
    private static partial void LogApplying(ILogger logger, int version, string name);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Database schema is at version {Version} ({Applied} migrations applied now)")]
    private static partial void LogUpToDate(ILogger logger, int version, int applied);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Database schema is at version {DatabaseVersion}, newer than this build's {LatestVersion}; a newer build has run against it")]
    private static partial void LogDatabaseAhead(ILogger logger, int databaseVersion, int latestVersion);
}
