using System.Globalization;
using Npgsql;
using Orleans.Embeddings.Storage.Naming;
using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Storage.Vectors;

/// <summary>
/// Builds a version's HNSW index after its bulk load, with <c>CREATE INDEX CONCURRENTLY</c> so live
/// writes go on during the build. Until the index exists, searches on the version are exact scans.
/// </summary>
public sealed class HnswIndexBuilder(NpgsqlDataSource dataSource)
{
    private const int MaxVectorDimensions = 2000;
    private const int MaxHalfVecDimensions = 4000;
    private const int MaxBitDimensions = 64000;

    /// <summary>Builds the index if it does not exist (a failed earlier build's invalid index is dropped first).</summary>
    /// <exception cref="InvalidOperationException">The version has more dimensions than pgvector's HNSW supports for its element type.</exception>
    public async Task BuildAsync(VersionTable table, HnswIndexOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        options ??= new HnswIndexOptions();
        options.Validate();
        var (limit, indexed) = table.Quantization == VectorQuantization.Binary ? (MaxBitDimensions / table.BinaryBits, "bit")
            : table.ElementType == VectorElementType.HalfVec ? (MaxHalfVecDimensions, "halfvec") : (MaxVectorDimensions, "vector");
        if (table.Dimensions > limit)
        {
            throw new InvalidOperationException(
                $"Version {table.Version} of {table.Collection} has {table.Dimensions} dimensions; pgvector's HNSW indexes {indexed} up to {limit}. Use halfvec, binary quantization or Matryoshka truncation.");
        }

        // A binary index is built on the signs around the version's centre, fixed the first time (it is in the index expression).
        table = await new CollectionCatalog(dataSource).EnsureQuantizationCenterAsync(table, cancellationToken).ConfigureAwait(false);
        var indexName = StorageNames.HnswIndexName(table.TableName);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        if (await ReadIndexValidityAsync(connection, indexName, cancellationToken).ConfigureAwait(false) is false)
        {
            await ExecuteAsync(connection, $"DROP INDEX CONCURRENTLY IF EXISTS {StorageNames.Quote(indexName)}", cancellationToken).ConfigureAwait(false);
        }

        await using (var settings = new NpgsqlCommand(
            "SELECT set_config('maintenance_work_mem', @memory, false), set_config('max_parallel_maintenance_workers', @workers, false)", connection))
        {
            settings.Parameters.AddWithValue("memory", options.MaintenanceWorkMemory);
            settings.Parameters.AddWithValue("workers", options.MaxParallelMaintenanceWorkers.ToString(CultureInfo.InvariantCulture));
            await settings.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            // CONCURRENTLY cannot run in a transaction: this is a command of its own, in autocommit.
            await ExecuteAsync(
                connection,
                string.Create(CultureInfo.InvariantCulture,
                    $"CREATE INDEX CONCURRENTLY IF NOT EXISTS {StorageNames.Quote(indexName)} ON {table.QuotedTable} USING hnsw ({table.IndexExpression("embedding")} {table.IndexOperatorClass}) WITH (m = {options.M}, ef_construction = {options.EfConstruction})"),
                cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // A connection lost during the build is closed: resetting it would only hide why the build failed.
            if (connection.State == System.Data.ConnectionState.Open)
            {
                await ExecuteAsync(connection, "RESET maintenance_work_mem; RESET max_parallel_maintenance_workers", CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>True when the version has a valid HNSW index.</summary>
    public async Task<bool> HasIndexAsync(VersionTable table, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await ReadIndexValidityAsync(connection, StorageNames.HnswIndexName(table.TableName), cancellationToken).ConfigureAwait(false) is true;
    }

    private static async Task<bool?> ReadIndexValidityAsync(NpgsqlConnection connection, string indexName, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = @name AND pg_table_is_visible(c.oid)", connection);
        command.Parameters.AddWithValue("name", indexName);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as bool?;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
