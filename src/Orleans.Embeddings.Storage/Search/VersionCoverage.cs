using Npgsql;
using Orleans.Embeddings.Storage.Versions;

namespace Orleans.Embeddings.Storage.Search;

/// <summary>Which documents versions hold: what an evaluation of a version that is still loading is restricted to.</summary>
public sealed class VersionCoverage(NpgsqlDataSource dataSource)
{
    /// <summary>The number of live (not deleted) rows of each table, by version.</summary>
    public async Task<IReadOnlyDictionary<string, long>> CountLiveAsync(IReadOnlyList<VersionTable> tables, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tables);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var table in tables)
        {
            await using var command = dataSource.CreateCommand($"SELECT count(*) FROM {table.QuotedTable} WHERE NOT deleted");
            counts[table.Version] = (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        return counts;
    }

    /// <summary>Those of <paramref name="ids"/> that every table holds a live row of, in the order given.</summary>
    public async Task<IReadOnlyList<string>> PresentInAllAsync(IReadOnlyList<VersionTable> tables, IReadOnlyList<string> ids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(ids);
        if (tables.Count == 0 || ids.Count == 0)
        {
            return tables.Count == 0 ? ids : [];
        }

        var exists = string.Join(" AND ", tables.Select(t => $"EXISTS (SELECT 1 FROM {t.QuotedTable} o WHERE o.id = i.id AND NOT o.deleted)"));
        await using var command = dataSource.CreateCommand($"SELECT i.id FROM unnest(@ids) WITH ORDINALITY AS i(id, n) WHERE {exists} ORDER BY i.n");
        command.Parameters.AddWithValue("ids", ids.ToArray());
        var present = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            present.Add(reader.GetString(0));
        }

        return present;
    }
}
