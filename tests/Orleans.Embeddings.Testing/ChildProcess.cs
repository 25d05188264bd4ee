using System.Diagnostics;
using System.Text;

namespace Orleans.Embeddings.Testing;

/// <summary>Runs a short command to completion and fails with its output when it does not succeed.</summary>
public static class ChildProcess
{
    /// <summary>Runs <paramref name="fileName"/> with <paramref name="arguments"/>; returns its standard output.</summary>
    /// <exception cref="InvalidOperationException">The command exited non-zero or timed out; the message holds its output.</exception>
    public static async Task<string> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var output = new StringBuilder();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(timeoutSource.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{Describe(startInfo)} did not finish within {timeout}.");
        }

        var standardOutput = await stdout.ConfigureAwait(false);
        output.Append(standardOutput).Append(await stderr.ConfigureAwait(false));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Describe(startInfo)} exited with {process.ExitCode}:\n{output}");
        }

        return standardOutput;
    }

    private static string Describe(ProcessStartInfo startInfo) =>
        $"'{startInfo.FileName} {string.Join(' ', startInfo.ArgumentList)}'";
}
