using System.Globalization;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using Orleans.Embeddings.Storage.Versions;
using Pgvector;

namespace Orleans.Embeddings.Storage.Search;

/// <summary>
/// Top-k search on a version table: HNSW when the index exists, an exact scan before. Tombstones never
/// match. pgvector 0.8's iterative index scan (strict order) keeps filtered queries returning k hits
/// whenever k rows match, instead of the at most ef_search candidates a plain HNSW scan filters down.
/// </summary>
public sealed class VectorSearch(NpgsqlDataSource dataSource)
{
    /// <summary>Searches <paramref name="table"/>; every hit is tagged with the table's version.</summary>
    /// <exception cref="ArgumentException">The query has the wrong number of dimensions or non-finite values, or k is out of range.</exception>
    public async Task<IReadOnlyList<VectorSearchHit>> SearchAsync(VersionTable table, VectorSearchRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(request);
        Check(table, request);
        if (table.Distance == DistanceMetric.Cosine && !request.Query.Span.ContainsAnyExcept(0f))
        {
            // A query with no word the model knows embeds to zero, whose cosine with anything is undefined (NaN): nothing is near it.
            return [];
        }

        var where = new StringBuilder("NOT t.deleted");
        var batch = new NpgsqlBatch();
        var search = new NpgsqlBatchCommand();
        for (var i = 0; i < request.Filters.Count; i++)
        {
            var field = $"f{i}";
            search.Parameters.AddWithValue(field, request.Filters[i].Field);
            switch (request.Filters[i])
            {
                case MetadataFilter.EqualFilter equal:
                    where.Append(CultureInfo.InvariantCulture, $" AND t.metadata @> jsonb_build_object(@{field}::text, @v{i}::jsonb)");
                    search.Parameters.Add(new NpgsqlParameter($"v{i}", NpgsqlDbType.Jsonb) { Value = equal.ValueJson });
                    break;
                case MetadataFilter.InFilter @in:
                    where.Append(CultureInfo.InvariantCulture, $" AND (t.metadata -> @{field}::text) IN (SELECT jsonb_array_elements(@v{i}::jsonb))");
                    search.Parameters.Add(new NpgsqlParameter($"v{i}", NpgsqlDbType.Jsonb) { Value = @in.ValuesJson });
                    break;
                case MetadataFilter.RangeFilter range:
                    // The CASE keeps the cast away from non-numbers whatever order the planner evaluates conditions in.
                    var number = $"(CASE WHEN jsonb_typeof(t.metadata -> @{field}::text) = 'number' THEN (t.metadata ->> @{field}::text)::double precision END)";
                    if (range.Min is { } min)
                    {
                        where.Append(CultureInfo.InvariantCulture, $" AND {number} >= @min{i}");
                        search.Parameters.AddWithValue($"min{i}", min);
                    }

                    if (range.Max is { } max)
                    {
                        where.Append(CultureInfo.InvariantCulture, $" AND {number} <= @max{i}");
                        search.Parameters.AddWithValue($"max{i}", max);
                    }

                    break;
            }
        }

        foreach (var other in request.PresentIn)
        {
            where.Append(CultureInfo.InvariantCulture, $" AND EXISTS (SELECT 1 FROM {other.QuotedTable} o WHERE o.id = t.id AND NOT o.deleted)");
        }

        var query = $"@query::{table.SqlElementType}";
        var distance = $"t.embedding {table.DistanceOperator} {query}";
        var content = request.IncludeContent
            ? "d.content FROM nn LEFT JOIN embeddings_documents d ON d.collection = @collection AND d.id = nn.id"
            : "NULL::text FROM nn";

        // A binary version's index orders by Hamming distance between its codes: k × oversample of those candidates
        // are ranked exactly on the stored vectors below. An exact search ranks every row directly. A direct search
        // orders by the distance alone, so that the HNSW index serves it.
        var binary = table.Quantization == VectorQuantization.Binary && !request.Exact;
        var candidates = binary ? Math.Min(VectorSearchRequest.MaxK, request.K * table.RerankOversample) : request.K;
        var source = binary
            ? $"""
              candidates AS MATERIALIZED (
                  SELECT t.id, t.embedding, t.metadata
                    FROM {table.QuotedTable} t
                   WHERE {where}
                   ORDER BY {table.IndexExpression("t.embedding")} {table.IndexDistanceOperator} {table.IndexExpression(query)}
                   LIMIT @candidates),
              """
            : string.Empty;
        search.CommandText =
            $"""
            WITH {source}nn AS MATERIALIZED (
                SELECT t.id, {distance} AS distance, t.metadata::text AS metadata
                  FROM {(binary ? "candidates t" : $"{table.QuotedTable} t WHERE {where}")}
                 ORDER BY {(binary ? $"{distance}, t.id" : distance)}
                 LIMIT @k)
            SELECT nn.id, {table.ScoreExpression("nn.distance")}, nn.metadata, {content}
             ORDER BY nn.distance, nn.id
            """;

        search.Parameters.AddWithValue("query", new Vector(request.Query));
        search.Parameters.AddWithValue("k", request.K);
        search.Parameters.AddWithValue("candidates", candidates);
        search.Parameters.AddWithValue("collection", table.Collection);

        // An exact search must not use the ANN index: with index scans off, the planner sorts every matching row.
        var settings = new NpgsqlBatchCommand(
            "SELECT set_config('hnsw.ef_search', @ef, true), set_config('hnsw.iterative_scan', 'strict_order', true), set_config('enable_indexscan', @index_scan, true)");
        settings.Parameters.AddWithValue("ef", Math.Max(EfSearchOf(table, request), candidates).ToString(CultureInfo.InvariantCulture));
        settings.Parameters.AddWithValue("index_scan", request.Exact ? "off" : "on");

        // One round trip: a batch runs in one implicit transaction (a single Sync), so the transaction-local settings of
        // its first statement apply to the search and end with it; no BEGIN and COMMIT round trips.
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        batch.Connection = connection;
        batch.BatchCommands.Add(settings);
        batch.BatchCommands.Add(search);
        var hits = new List<VectorSearchHit>(request.K);
        await using (batch)
        {
            await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                hits.Add(new VectorSearchHit(
                    reader.GetString(0),
                    reader.GetDouble(1),
                    reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3),
                    table.Version));
            }
        }

        return hits;
    }

    /// <summary>
    /// The ef_search a search of <paramref name="table"/> uses (before it is raised to the candidates it returns or
    /// reranks): the request's, else the one tuned for the version, else <see cref="VectorSearchRequest.DefaultEfSearch"/>.
    /// </summary>
    public static int EfSearchOf(VersionTable table, VectorSearchRequest request)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(request);
        return request.EfSearch ?? table.EfSearchTuning?.EfSearch ?? VectorSearchRequest.DefaultEfSearch;
    }

    private static void Check(VersionTable table, VectorSearchRequest request)
    {
        if (request.K is < 1 or > VectorSearchRequest.MaxK)
        {
            throw new ArgumentException($"k must be between 1 and {VectorSearchRequest.MaxK} (was {request.K}).", nameof(request));
        }

        if (request.EfSearch is < 1 or > VectorSearchRequest.MaxK)
        {
            throw new ArgumentException($"ef_search must be between 1 and {VectorSearchRequest.MaxK} (was {request.EfSearch}).", nameof(request));
        }

        if (request.Query.Length != table.Dimensions)
        {
            throw new ArgumentException(
                $"The query vector has {request.Query.Length} dimensions; version {table.Version} of {table.Collection} stores {table.Dimensions}.", nameof(request));
        }

        foreach (var value in request.Query.Span)
        {
            if (!float.IsFinite(value))
            {
                throw new ArgumentException($"The query vector holds a non-finite value ({value}).", nameof(request));
            }
        }
    }
}
