using System.Text.Json;
using Npgsql;
using Orleans.Embeddings.Storage;

namespace Orleans.Embeddings.Silo.Api;

/// <summary>
/// The failures no endpoint answers itself, answered as <c>{"error": "…"}</c>:
/// <list type="bullet">
/// <item>a request the endpoints cannot bind (malformed JSON, a value of the wrong type, a body over the size limit)
/// gets its 4xx naming the problem, instead of ASP.NET's empty 400;</item>
/// <item>a request that failed because PostgreSQL is unreachable or went away (restarting, a connection terminated) gets
/// 503 with <c>Retry-After</c>, so that clients wait and repeat it, instead of a 500 with an exception page. A database
/// failure that is not transient (the statement was refused) stays a 500.</item>
/// </list>
/// </summary>
public static class ErrorResponses
{
    /// <summary>Seconds a client is told to wait before repeating a request the database could not serve.</summary>
    public const int RetryAfterSeconds = 2;

    /// <summary>Makes binding failures throw (<see cref="RouteHandlerOptions.ThrowOnBadRequest"/>), so that <see cref="UseErrorResponses"/> can answer them.</summary>
    public static IServiceCollection AddErrorResponses(this IServiceCollection services) =>
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);

    /// <summary>Answers binding failures and an unavailable database with their status and <c>{"error": "…"}</c>.</summary>
    public static void UseErrorResponses(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context).ConfigureAwait(false);
            }
            catch (Exception ex) when (!context.Response.HasStarted && Describe(ex) is var (status, message))
            {
                context.Response.Clear();
                context.Response.StatusCode = status;
                if (status == StatusCodes.Status503ServiceUnavailable)
                {
                    context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                await context.Response.WriteAsJsonAsync(new ApiError(message), context.RequestAborted).ConfigureAwait(false);
            }
        });
    }

    private static (int Status, string Message)? Describe(Exception exception) => exception switch
    {
        // The inner JSON error says where the body is wrong ("… could not be converted to System.Int32. Path: $.k …").
        BadHttpRequestException bad => (bad.StatusCode, bad.InnerException is JsonException json ? $"{bad.Message} {json.Message}" : bad.Message),
        _ when Unavailable(exception) is { } failure => (StatusCodes.Status503ServiceUnavailable, $"The database is unavailable; repeat the request shortly. {failure}"),
        _ => null,
    };

    // The message of the first database failure in the chain, when it is transient: a grain call's arrives as a
    // DatabaseFailureException, an endpoint's own as Npgsql's.
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
