using System.Security.Cryptography;
using System.Text;

namespace Orleans.Embeddings.Silo.Api;

/// <summary>The roles a bearer token grants.</summary>
public enum ApiRole
{
    /// <summary>No valid token.</summary>
    None,

    /// <summary>Search only.</summary>
    Search,

    /// <summary>Everything, rollouts included.</summary>
    Operator,
}

/// <summary>Checks <c>Authorization: Bearer …</c> against the configured tokens (in constant time).</summary>
public sealed class BearerTokens(string operatorToken, string searchToken)
{
    /// <summary>The role the request's token grants.</summary>
    public ApiRole RoleOf(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var header = request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return ApiRole.None;
        }

        var presented = Encoding.UTF8.GetBytes(header[scheme.Length..].Trim());
        if (Matches(presented, operatorToken))
        {
            return ApiRole.Operator;
        }

        return Matches(presented, searchToken) ? ApiRole.Search : ApiRole.None;
    }

    private static bool Matches(byte[] presented, string token) =>
        token.Length > 0 && CryptographicOperations.FixedTimeEquals(presented, Encoding.UTF8.GetBytes(token));
}
