using Npgsql;
using Pgvector.Npgsql;

namespace Orleans.Embeddings.Storage;

/// <summary>Builds the one <see cref="NpgsqlDataSource"/> a process shares, with pgvector's types mapped.</summary>
public static class EmbeddingsDataSource
{
    /// <summary>Creates a data source for <paramref name="connectionString"/> with the <c>vector</c> and <c>halfvec</c> types mapped.</summary>
    public static NpgsqlDataSource Create(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        builder.UseVector();
        return builder.Build();
    }
}
