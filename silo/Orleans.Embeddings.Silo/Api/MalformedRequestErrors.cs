using System.Text.Json;

namespace Orleans.Embeddings.Silo.Api;

/// <summary>
/// Requests the endpoints cannot bind (malformed JSON, a value of the wrong type, a body over the size limit) get a 4xx
/// whose JSON body names the problem, instead of ASP.NET's empty 400.
/// </summary>
public static class MalformedRequestErrors
{
    /// <summary>Makes binding failures throw (<see cref="RouteHandlerOptions.ThrowOnBadRequest"/>), so that <see cref="UseMalformedRequestErrors"/> can answer them.</summary>
    public static IServiceCollection AddMalformedRequestErrors(this IServiceCollection services) =>
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);

    /// <summary>Answers a request that failed to bind with its status and <c>{"error": "…"}</c>.</summary>
    public static void UseMalformedRequestErrors(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context).ConfigureAwait(false);
            }
            catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
            {
                context.Response.Clear();
                context.Response.StatusCode = ex.StatusCode;
                await context.Response.WriteAsJsonAsync(new ApiError(Describe(ex)), context.RequestAborted).ConfigureAwait(false);
            }
        });
    }

    // The inner JSON error says where the body is wrong ("… could not be converted to System.Int32. Path: $.k …").
    private static string Describe(BadHttpRequestException ex) =>
        ex.InnerException is JsonException json ? $"{ex.Message} {json.Message}" : ex.Message;
}
