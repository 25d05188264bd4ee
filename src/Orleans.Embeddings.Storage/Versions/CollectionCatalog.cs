using Npgsql;
using Pgvector;
using Orleans.Embeddings.Storage.Naming;
using Orleans.Embeddings.Storage.Search;

namespace Orleans.Embeddings.Storage.Versions;

/// <summary>Collections and the registry of their model versions, each with an embedding table of its own.</summary>
public sealed class CollectionCatalog(NpgsqlDataSource dataSource)
{
    private const string SelectVersion =
        "SELECT collection, version, dimensions, element_type, distance, table_name, quantization, rerank_oversample, quantization_center, binary_bits, quantization_spread, " +
        "ef_search, ef_search_recall, ef_search_target, ef_search_reached, ef_search_default_recall, ef_search_queries, ef_search_seconds, ef_search_tuned_at FROM embeddings_model_versions";

    /// <summary>Creates the collection when it does not exist yet.</summary>
    /// <exception cref="ArgumentException">The name is not a valid collection name.</exception>
    public async Task EnsureCollectionAsync(string collection, CancellationToken cancellationToken = default)
    {
        StorageNames.Validate(collection, "collection");
        await using var command = dataSource.CreateCommand("INSERT INTO embeddings_collections (name) VALUES (@name) ON CONFLICT DO NOTHING");
        command.Parameters.AddWithValue("name", collection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The names of every collection, in order.</summary>
    public async Task<IReadOnlyList<string>> ListCollectionsAsync(CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT name FROM embeddings_collections ORDER BY name");
        var names = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    /// <summary>
    /// Registers a version of a collection (creating the collection if needed) and creates its embedding
    /// table, without an ANN index: bulk loads are far faster without one. Repeating the same
    /// registration is a no-op; registering an existing version with another shape fails.
    /// </summary>
    /// <exception cref="ArgumentException">A name is invalid or the dimensions are out of range.</exception>
    /// <exception cref="InvalidOperationException">The version exists with other dimensions, element type or distance.</exception>
    public Task<VersionTable> RegisterVersionAsync(
        string collection, string version, int dimensions, VectorElementType elementType, DistanceMetric distance,
        CancellationToken cancellationToken = default) =>
        RegisterVersionAsync(collection, version, new VersionLayout(dimensions, elementType, distance), cancellationToken);

    /// <summary>
    /// Registers a version with its <paramref name="layout"/> (precision, Matryoshka length, quantization) and creates
    /// its embedding table, without an ANN index. Repeating the same registration is a no-op; registering an existing
    /// version with another layout fails.
    /// </summary>
    /// <exception cref="ArgumentException">A name is invalid or the layout is out of range.</exception>
    /// <exception cref="InvalidOperationException">The version exists with another layout.</exception>
    public async Task<VersionTable> RegisterVersionAsync(
        string collection, string version, VersionLayout layout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var tableName = StorageNames.VersionTableName(collection, version);
        layout.Validate();
        var (dimensions, elementType, distance) = (layout.Dimensions, layout.ElementType, layout.Distance);
        var requested = new VersionTable(collection, version, dimensions, elementType, distance, tableName)
        {
            Quantization = layout.Quantization,
            RerankOversample = layout.RerankOversample,
            BinaryBits = layout.BinaryBits,
        };

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var insert = new NpgsqlCommand(
            """
            INSERT INTO embeddings_collections (name) VALUES (@collection) ON CONFLICT DO NOTHING;
            INSERT INTO embeddings_model_versions (collection, version, dimensions, element_type, distance, table_name, quantization, rerank_oversample, binary_bits)
            VALUES (@collection, @version, @dimensions, @element_type, @distance, @table_name, @quantization, @rerank_oversample, @binary_bits)
            ON CONFLICT (collection, version) DO NOTHING;
            """, connection, transaction))
        {
            insert.Parameters.AddWithValue("collection", collection);
            insert.Parameters.AddWithValue("version", version);
            insert.Parameters.AddWithValue("dimensions", dimensions);
            insert.Parameters.AddWithValue("element_type", ToSql(elementType));
            insert.Parameters.AddWithValue("distance", ToSql(distance));
            insert.Parameters.AddWithValue("table_name", tableName);
            insert.Parameters.AddWithValue("quantization", ToSql(layout.Quantization));
            insert.Parameters.AddWithValue("rerank_oversample", layout.RerankOversample);
            insert.Parameters.AddWithValue("binary_bits", (short)layout.BinaryBits);
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var existing = await ReadVersionAsync(connection, transaction, collection, version, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Version {version} of collection {collection} vanished during registration.");
        if (existing.Layout != layout)
        {
            throw new InvalidOperationException(
                $"Version {version} of collection {collection} is already registered as {existing.Representation}, " +
                $"{ToSql(existing.Distance)} distance; it cannot be re-registered as {requested.Representation}, " +
                $"{ToSql(distance)} distance. Register a new version name instead.");
        }

        await using (var create = new NpgsqlCommand(
            $"""
            CREATE TABLE IF NOT EXISTS {requested.QuotedTable}
            (
                id         text        PRIMARY KEY,
                seq        bigint      NOT NULL,
                deleted    boolean     NOT NULL DEFAULT false,
                embedding  {requested.ColumnType} NULL,
                metadata   jsonb       NOT NULL DEFAULT jsonb_build_object(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                CHECK (deleted OR embedding IS NOT NULL)
            )
            """, connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return requested;
    }

    /// <summary>
    /// Records the model folder a version embeds with and the tokenizer revision it tokenizes with; every silo must be
    /// able to load the folder from this path.
    /// </summary>
    public Task SetModelPathAsync(string collection, string version, string modelPath, string tokenizerRevision, CancellationToken cancellationToken = default) =>
        SetModelPathsAsync(collection, version, modelPath, null, tokenizerRevision, cancellationToken);

    /// <summary>
    /// Records the model folder a version embeds documents with, optionally the separate query model folder it embeds
    /// queries with (null: queries use the document model), and the tokenizer revision both tokenize with for the
    /// version's life (e.g. <c>bert-hf</c>). Every silo must be able to load both folders from these paths.
    /// </summary>
    public async Task SetModelPathsAsync(
        string collection, string version, string modelPath, string? queryModelPath, string tokenizerRevision, CancellationToken cancellationToken = default)
    {
        StorageNames.Validate(collection, "collection");
        StorageNames.Validate(version, "version");
        ArgumentException.ThrowIfNullOrWhiteSpace(modelPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(tokenizerRevision);
        await using var command = dataSource.CreateCommand(
            "UPDATE embeddings_model_versions SET model_path = @path, query_model_path = @query_path, tokenizer_revision = @tokenizer WHERE collection = @collection AND version = @version");
        command.Parameters.AddWithValue("path", modelPath);
        command.Parameters.AddWithValue("query_path", (object?)queryModelPath ?? DBNull.Value);
        command.Parameters.AddWithValue("tokenizer", tokenizerRevision);
        command.Parameters.AddWithValue("collection", collection);
        command.Parameters.AddWithValue("version", version);
        if (await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
        {
            throw new InvalidOperationException($"Version {version} of collection {collection} is not registered.");
        }
    }

    /// <summary>
    /// <paramref name="table"/> with the centre (and, with two bits per dimension, the spread) its sign bits are taken
    /// around: the ones recorded, or else the mean (and 0.6745 standard deviations) of its live vectors, recorded now
    /// (the first caller wins a race). A version that is not binary, or holds no vectors yet, comes back as it is.
    /// </summary>
    public async Task<VersionTable> EnsureQuantizationCenterAsync(VersionTable table, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (table.Quantization != VectorQuantization.Binary)
        {
            return table;
        }

        if (await GetVersionAsync(table.Collection, table.Version, cancellationToken).ConfigureAwait(false) is { QuantizationCenter: not null } recorded)
        {
            return recorded;
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        float[]? center;
        await using (var mean = new NpgsqlCommand($"SELECT avg(embedding)::vector::real[] FROM {table.QuotedTable} WHERE NOT deleted", connection))
        {
            center = await mean.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as float[];
        }

        if (center is null)
        {
            return table;
        }

        float[]? spread = null;
        if (table.BinaryBits == 2)
        {
            // Thresholds at ±0.6745 σ split a normal dimension into three equally likely parts (25 %, 50 %, 25 %).
            await using var variance = new NpgsqlCommand(
                $"SELECT avg((embedding::vector - @center) * (embedding::vector - @center))::real[] FROM {table.QuotedTable} WHERE NOT deleted", connection);
            variance.Parameters.AddWithValue("center", new Vector(center));
            spread = [.. ((float[])(await variance.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!).Select(v => 0.6745f * MathF.Sqrt(v))];
        }

        // The centre and the quantizer function that holds it commit together: a version has one whenever it has the other.
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
        {
            await using var record = new NpgsqlCommand(
                """
                UPDATE embeddings_model_versions SET quantization_center = @center, quantization_spread = @spread
                 WHERE collection = @collection AND version = @version AND quantization_center IS NULL
                """, connection, transaction);
            record.Parameters.AddWithValue("center", center);
            record.Parameters.AddWithValue("spread", (object?)spread ?? DBNull.Value);
            record.Parameters.AddWithValue("collection", table.Collection);
            record.Parameters.AddWithValue("version", table.Version);
            if (await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1)
            {
                await using var quantizer = new NpgsqlCommand((table with { QuantizationCenter = center, QuantizationSpread = spread }).QuantizerDefinition, connection, transaction);
                await quantizer.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        return await GetVersionAsync(table.Collection, table.Version, cancellationToken).ConfigureAwait(false) ?? table;
    }

    /// <summary>
    /// The model folder a version embeds documents with, its query model folder (null when queries use the document
    /// model), both null when none was recorded, and the tokenizer revision they tokenize with
    /// (<c>mltokenizers-bert-2.0</c> for versions registered before revisions were recorded); null when there is no such version.
    /// </summary>
    public async Task<(string? ModelPath, string? QueryModelPath, string? TokenizerRevision)> GetModelPathsAsync(
        string collection, string version, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT model_path, query_model_path, tokenizer_revision FROM embeddings_model_versions WHERE collection = @collection AND version = @version");
        command.Parameters.AddWithValue("collection", collection);
        command.Parameters.AddWithValue("version", version);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? (reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetString(2))
            : (null, null, null);
    }

    /// <summary>Reads a registered version, or null when the collection has no such version.</summary>
    public async Task<VersionTable?> GetVersionAsync(string collection, string version, CancellationToken cancellationToken = default)
    {
        StorageNames.Validate(collection, "collection");
        StorageNames.Validate(version, "version");
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await ReadVersionAsync(connection, null, collection, version, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Lists the registered versions of a collection, oldest first.</summary>
    public async Task<IReadOnlyList<VersionTable>> ListVersionsAsync(string collection, CancellationToken cancellationToken = default)
    {
        StorageNames.Validate(collection, "collection");
        await using var command = dataSource.CreateCommand($"{SelectVersion} WHERE collection = @collection ORDER BY created_at, version");
        command.Parameters.AddWithValue("collection", collection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var versions = new List<VersionTable>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            versions.Add(Read(reader));
        }

        return versions;
    }

    /// <summary>The collection's own settings (a value is null when the collection sets none).</summary>
    /// <exception cref="ArgumentException">The name is not a valid collection name.</exception>
    /// <exception cref="KeyNotFoundException">The collection does not exist.</exception>
    public async Task<CollectionSettings> GetSettingsAsync(string collection, CancellationToken cancellationToken = default)
    {
        StorageNames.Validate(collection, "collection");
        await using var command = dataSource.CreateCommand("SELECT target_recall FROM embeddings_collections WHERE name = @name");
        command.Parameters.AddWithValue("name", collection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new CollectionSettings(collection, reader.IsDBNull(0) ? null : reader.GetDouble(0))
            : throw new KeyNotFoundException($"Collection {collection} does not exist.");
    }

    /// <summary>
    /// Sets the recall@10 the collection's versions tune their ef_search for (null: the default). It applies to versions
    /// indexed or re-measured from now on.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not a valid collection name.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The target is not above 0 and at most 1.</exception>
    /// <exception cref="KeyNotFoundException">The collection does not exist.</exception>
    public async Task<CollectionSettings> SetTargetRecallAsync(string collection, double? targetRecall, CancellationToken cancellationToken = default)
    {
        StorageNames.Validate(collection, "collection");
        if (targetRecall is { } target && !(target is > 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(targetRecall), targetRecall, "The target recall must be above 0 and at most 1 (e.g. 0.95).");
        }

        await using var command = dataSource.CreateCommand("UPDATE embeddings_collections SET target_recall = @target WHERE name = @name");
        command.Parameters.AddWithValue("name", collection);
        command.Parameters.AddWithValue("target", (object?)targetRecall ?? DBNull.Value);
        if (await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
        {
            throw new KeyNotFoundException($"Collection {collection} does not exist.");
        }

        return new CollectionSettings(collection, targetRecall);
    }

    /// <summary>Records the ef_search measured on a version's index; searches of the version that set none use it from then on.</summary>
    /// <exception cref="InvalidOperationException">The version is not registered (retired meanwhile).</exception>
    public async Task RecordEfSearchTuningAsync(VersionTable table, EfSearchTuning tuning, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(tuning);
        await using var command = dataSource.CreateCommand(
            """
            UPDATE embeddings_model_versions
               SET ef_search = @ef, ef_search_recall = @recall, ef_search_target = @target, ef_search_reached = @reached,
                   ef_search_default_recall = @default_recall, ef_search_queries = @queries, ef_search_seconds = @seconds, ef_search_tuned_at = @at
             WHERE collection = @collection AND version = @version
            """);
        command.Parameters.AddWithValue("ef", tuning.EfSearch);
        command.Parameters.AddWithValue("recall", tuning.Recall);
        command.Parameters.AddWithValue("target", tuning.TargetRecall);
        command.Parameters.AddWithValue("reached", tuning.TargetReached);
        command.Parameters.AddWithValue("default_recall", tuning.RecallAtDefault);
        command.Parameters.AddWithValue("queries", tuning.Queries);
        command.Parameters.AddWithValue("seconds", tuning.Seconds);
        command.Parameters.AddWithValue("at", tuning.TunedAt);
        command.Parameters.AddWithValue("collection", table.Collection);
        command.Parameters.AddWithValue("version", table.Version);
        if (await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
        {
            throw new InvalidOperationException($"Version {table.Version} of collection {table.Collection} is not registered.");
        }
    }

    /// <summary>
    /// Drops a version's table and forgets the version. Idempotent. The caller must make sure no silo can
    /// still route writes or searches to it (DESIGN invariant 4).
    /// </summary>
    public async Task DropVersionAsync(string collection, string version, CancellationToken cancellationToken = default)
    {
        var tableName = StorageNames.VersionTableName(collection, version);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            $"""
            DROP TABLE IF EXISTS {StorageNames.Quote(tableName)};
            DROP FUNCTION IF EXISTS {StorageNames.Quote(StorageNames.QuantizerFunctionName(tableName))}(halfvec), {StorageNames.Quote(StorageNames.QuantizerFunctionName(tableName))}(vector);
            DELETE FROM embeddings_model_versions WHERE collection = @collection AND version = @version;
            """, connection, transaction);
        command.Parameters.AddWithValue("collection", collection);
        command.Parameters.AddWithValue("version", version);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<VersionTable?> ReadVersionAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string collection, string version, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"{SelectVersion} WHERE collection = @collection AND version = @version", connection, transaction);
        command.Parameters.AddWithValue("collection", collection);
        command.Parameters.AddWithValue("version", version);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    private static VersionTable Read(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetInt32(2),
        reader.GetString(3) == "halfvec" ? VectorElementType.HalfVec : VectorElementType.Vector,
        reader.GetString(4) switch
        {
            "cosine" => DistanceMetric.Cosine,
            "inner_product" => DistanceMetric.InnerProduct,
            _ => DistanceMetric.L2,
        },
        reader.GetString(5))
    {
        Quantization = reader.GetString(6) == "binary" ? VectorQuantization.Binary : VectorQuantization.None,
        RerankOversample = reader.GetInt32(7),
        QuantizationCenter = reader.IsDBNull(8) ? null : reader.GetFieldValue<float[]>(8),
        BinaryBits = reader.GetInt16(9),
        QuantizationSpread = reader.IsDBNull(10) ? null : reader.GetFieldValue<float[]>(10),
        EfSearchTuning = reader.IsDBNull(11) ? null : new EfSearchTuning(
            reader.GetInt32(11),
            reader.GetDouble(12),
            reader.GetDouble(13),
            reader.GetBoolean(14),
            reader.GetDouble(15),
            reader.GetInt32(16),
            reader.GetDouble(17),
            reader.GetFieldValue<DateTimeOffset>(18)),
    };

    private static string ToSql(VectorQuantization quantization) => quantization == VectorQuantization.Binary ? "binary" : "none";

    private static string ToSql(VectorElementType type) => type == VectorElementType.HalfVec ? "halfvec" : "vector";

    private static string ToSql(DistanceMetric distance) => distance switch
    {
        DistanceMetric.Cosine => "cosine",
        DistanceMetric.InnerProduct => "inner_product",
        _ => "l2",
    };
}
