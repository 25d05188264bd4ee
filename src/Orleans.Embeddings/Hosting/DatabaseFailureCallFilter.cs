using Npgsql;
using Orleans.Embeddings.Storage;

namespace Orleans.Embeddings.Hosting;

/// <summary>
/// A grain call that fails in PostgreSQL (a connection terminated, the server restarting) reaches its caller as a
/// <see cref="DatabaseFailureException"/> (an <see cref="InvalidOperationException"/>) saying so and whether the call can be repeated. Npgsql's exceptions carry types
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
            throw From(ex, $"{context.InterfaceName}.{context.MethodName}");
        }
    }

    /// <summary>
    /// Runs a grain's activation work (<paramref name="what"/> names it in the error): its failure reaches the first
    /// call's caller without passing this filter, so a database failure is converted here.
    /// </summary>
    public static async Task ActivateAsync(Task work, string what)
    {
        ArgumentNullException.ThrowIfNull(work);
        try
        {
            await work;
        }
        catch (NpgsqlException ex)
        {
            throw From(ex, what);
        }
    }

    /// <inheritdoc cref="ActivateAsync(Task, string)"/>
    public static async Task<T> ActivateAsync<T>(Task<T> work, string what)
    {
        ArgumentNullException.ThrowIfNull(work);
        try
        {
            return await work;
        }
        catch (NpgsqlException ex)
        {
            throw From(ex, what);
        }
    }

    /// <summary>The <see cref="DatabaseFailureException"/> a caller gets for <paramref name="exception"/>, naming <paramref name="what"/> failed.</summary>
    public static DatabaseFailureException From(NpgsqlException exception, string what)
    {
        var state = exception is PostgresException postgres ? $" (SQLSTATE {postgres.SqlState})" : string.Empty;
        var transient = PostgresFailures.IsConnectionLoss(exception);
        return new DatabaseFailureException(
            $"{what} failed in PostgreSQL{state}: {exception.Message}{(transient ? " The failure is transient; repeat the call." : string.Empty)}", transient);
    }
}
