using System.Diagnostics;

namespace Orleans.Embeddings.Testing;

/// <summary>Runs the built <c>embeddings</c> command-line tool as a process.</summary>
public static class EmbeddingsCli
{
    /// <summary>The tool's assembly in this build's output.</summary>
    public static string Assembly => Path.Combine(RepositoryPaths.Root, "client", "Orleans.Embeddings.Cli", "bin", RepositoryPaths.Configuration, "net10.0", "embeddings.dll");

    /// <summary>Runs the tool with <paramref name="arguments"/>; returns its exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(IEnumerable<string> arguments, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Assembly);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["COLUMNS"] = "200";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return (process.ExitCode, await stdout + await stderr);
    }
}
