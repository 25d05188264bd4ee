using Npgsql;
using Orleans.Embeddings.Storage;

namespace Orleans.Embeddings.Silo.Api;

/// <summary>
/// A request that fails because PostgreSQL is unreachable or went away (restarting, a connection terminated) gets 503
/// with <c>Retry-After</c> and <c>{"error": "…"}</c> naming the failure, so that clients wait and repeat it, instead of
/// a 500 with an exception page. A database failure that is not transient (the statement was refused) stays a 500.
/// </summary>
public static class DatabaseFailureErrors
{
    /// <summary>Seconds a client is told to wait before repeating the request.</summary>
    public const int RetryAfterSeconds = 2;

    /// <summary>Answers requests that failed on an unavailable database with 503.</summary>
    public static void UseDatabaseFailureErrors(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context).ConfigureAwait(false);
            }
            catch (Exception ex) when (!context.Response.HasStarted && Unavailable(ex) is { } message)
            {
                context.Response.Clear();
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await context.Response.WriteAsJsonAsync(new ApiError($"The database is unavailable; repeat the request shortly. {message}"), context.RequestAborted).ConfigureAwait(false);
            }
        });
    }

    // The message of the first database failure in the chain, when it is transient.
    private static string? Unavailable(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case DatabaseFailureException failure:
                    return failure.Transient ? failure.Message : null;
                case NpgsqlException npgsql:
                    return PostgresFailures.IsConnectionLoss(npgsql) ? npgsql.Message : null;
            }
        }

        return null;
    }
}
