using Microsoft.Extensions.FileProviders;

namespace Orleans.Embeddings.Silo.Console;

/// <summary>
/// The operator console: a static page at <c>/console/</c> (its files, Chart.js included, are copied next to the silo's
/// assembly under <c>console/</c>) that drives the operator API with the token the user types in. The page itself holds
/// no data, so it is served without a token; every figure it shows comes from an API call that needs the operator token.
/// Its content security policy lets it load nothing but its own files and talk to nothing but this silo.
/// </summary>
public static class ConsolePage
{
    /// <summary>Where the console is served.</summary>
    public const string Path = "/console";

    private const string SecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /// <summary>Serves the console's files (a request for <c>/console</c> is redirected to <c>/console/</c>).</summary>
    /// <exception cref="DirectoryNotFoundException">The console's files are not next to the assembly.</exception>
    public static void UseOperatorConsole(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var root = System.IO.Path.Combine(AppContext.BaseDirectory, "console");
        if (!File.Exists(System.IO.Path.Combine(root, "index.html")))
        {
            throw new DirectoryNotFoundException($"The operator console's files are missing from {root} (they are copied there by the build).");
        }

        var files = new PhysicalFileProvider(root);
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files, RequestPath = Path });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            RequestPath = Path,
            OnPrepareResponse = context =>
            {
                var headers = context.Context.Response.Headers;
                headers.ContentSecurityPolicy = SecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers.CacheControl = "no-cache";
            },
        });
    }
}
