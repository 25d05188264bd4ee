using Npgsql;
using Orleans.Embeddings.Storage;

namespace Orleans.Embeddings.Hosting;

/// <summary>
/// A grain call that fails in PostgreSQL (a connection terminated, the server restarting) reaches its caller as an
/// <see cref="InvalidOperationException"/> saying so and that the call can be repeated. Npgsql's exceptions carry types
/// Orleans cannot serialize, so without this the caller saw only "Could not find a codec for type
/// Npgsql.PostgresException" in place of the real failure.
/// </summary>
internal sealed class DatabaseFailureCallFilter : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke().ConfigureAwait(false);
        }
        catch (NpgsqlException ex)
        {
            var state = ex is PostgresException postgres ? $" (SQLSTATE {postgres.SqlState})" : string.Empty;
            throw new InvalidOperationException(
                $"{context.InterfaceName}.{context.MethodName} failed in PostgreSQL{state}: {ex.Message}{(PostgresFailures.IsConnectionLoss(ex) ? " The failure is transient; repeat the call." : string.Empty)}");
        }
    }
}
