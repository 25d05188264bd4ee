using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orleans.Embeddings.Cli.Api;

/// <summary>Calls a silo's HTTP API (<c>/api/collections/…</c>) with the operator or the search bearer token.</summary>
internal sealed class SiloApi(HttpClient http) : IDisposable
{
    /// <summary>Where <c>infra/run.sh</c> keeps the operator token of the local silo.</summary>
    public const string DefaultTokenFile = "/var/lib/orleans-embeddings/operator-token";

    /// <summary>Where <c>infra/run.sh</c> keeps the search token of the local silo.</summary>
    public const string DefaultSearchTokenFile = "/var/lib/orleans-embeddings/search-token";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    public static Option<string> ApiOption() => new("--api")
    {
        Description = "The silo's web address (default: $EMBEDDINGS_API_URL or http://127.0.0.1:8080).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("EMBEDDINGS_API_URL") is { Length: > 0 } url ? url : "http://127.0.0.1:8080",
    };

    public static Option<string?> TokenOption() => new("--token")
    {
        Description = $"The operator bearer token (default: $EMBEDDINGS_OPERATOR_TOKEN, else the file {DefaultTokenFile}).",
    };

    public static Option<string?> SearchTokenOption() => new("--token")
    {
        Description = $"The search (or operator) bearer token (default: $EMBEDDINGS_SEARCH_TOKEN, else the file {DefaultSearchTokenFile}, else the operator token).",
    };

    public static Option<string> CollectionOption() => new("--collection", "-c") { Description = "The collection.", Required = true };

    /// <summary>A client for <paramref name="api"/> with the operator token, or an error naming what is missing.</summary>
    public static SiloApi Create(string api, string? token)
    {
        token ??= TokenFrom("EMBEDDINGS_OPERATOR_TOKEN", DefaultTokenFile)
            ?? throw new InvalidOperationException($"No operator token: pass --token, set EMBEDDINGS_OPERATOR_TOKEN, or run the silo with infra/run.sh (which writes {DefaultTokenFile}).");
        return Connect(api, token);
    }

    /// <summary>A client for <paramref name="api"/> with the search token (else the operator token), or an error naming what is missing.</summary>
    public static SiloApi CreateForSearch(string api, string? token)
    {
        token ??= TokenFrom("EMBEDDINGS_SEARCH_TOKEN", DefaultSearchTokenFile) ?? TokenFrom("EMBEDDINGS_OPERATOR_TOKEN", DefaultTokenFile)
            ?? throw new InvalidOperationException($"No search token: pass --token, set EMBEDDINGS_SEARCH_TOKEN, or run the silo with infra/run.sh (which writes {DefaultSearchTokenFile}).");
        return Connect(api, token);
    }

    private static string? TokenFrom(string variable, string file) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } fromEnvironment ? fromEnvironment
        : File.Exists(file) && File.ReadLines(file).FirstOrDefault()?.Trim() is { Length: > 0 } fromFile ? fromFile
        : null;

    private static SiloApi Connect(string api, string token)
    {
        if (!Uri.TryCreate(api, UriKind.Absolute, out var baseAddress))
        {
            throw new InvalidOperationException($"--api {api} is not an absolute URL.");
        }

        var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromMinutes(2) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return new SiloApi(http);
    }

    public Task<T> GetAsync<T>(string collection, string path, CancellationToken cancellationToken) =>
        SendAsync<T>(new HttpRequestMessage(HttpMethod.Get, Url(collection, path)), cancellationToken);

    public Task<T> PostAsync<T>(string collection, string path, object? body, CancellationToken cancellationToken) =>
        SendAsync<T>(new HttpRequestMessage(HttpMethod.Post, Url(collection, path)) { Content = JsonContent.Create(body ?? new { }, options: Json) }, cancellationToken);

    public void Dispose() => http.Dispose();

    private static string Url(string collection, string path) => $"api/collections/{Uri.EscapeDataString(collection)}/{path}";

    private async Task<T> SendAsync<T>(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (request)
        {
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex)
            {
                throw new InvalidOperationException($"The silo at {http.BaseAddress} did not answer ({ex.Message}); is it running (bash infra/run.sh)?", ex);
            }

            using (response)
            {
                if (response.IsSuccessStatusCode)
                {
                    return (await response.Content.ReadFromJsonAsync<T>(Json, cancellationToken).ConfigureAwait(false))!;
                }

                var error = await ReadErrorAsync(response, cancellationToken).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                {
                    throw new DatabaseUnavailableException($"The silo is unavailable (503): {error}");
                }

                throw new InvalidOperationException(response.StatusCode switch
                {
                    HttpStatusCode.Unauthorized => $"The silo refused the token (401): {error}",
                    HttpStatusCode.Forbidden => $"The token may not do this (403): {error}",
                    _ => error,
                });
            }
        }
    }

    private static async Task<string> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.TryGetProperty("error", out var error))
            {
                return error.GetString() ?? text;
            }
        }
        catch (JsonException)
        {
        }

        return $"{(int)response.StatusCode} {response.ReasonPhrase}: {text}";
    }
}

/// <summary>The silo answered 503: its database is unavailable for now, and the same request can be repeated.</summary>
internal sealed class DatabaseUnavailableException(string message) : InvalidOperationException(message);
