using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace Orleans.Embeddings.Testing;

/// <summary>
/// The real silo host running as a child process, configured through environment variables, so a test
/// can run several silos side by side and kill one with SIGKILL.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(5) };

    private SiloProcess(string name, Process process, Uri httpAddress, int siloPort, int gatewayPort)
    {
        Name = name;
        _process = process;
        HttpAddress = httpAddress;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
    }

    /// <summary>A label for diagnostics.</summary>
    public string Name { get; }

    /// <summary>The silo's web address (health, readiness, metrics, dashboard).</summary>
    public Uri HttpAddress { get; }

    /// <summary>The silo-to-silo port.</summary>
    public int SiloPort { get; }

    /// <summary>The client gateway port.</summary>
    public int GatewayPort { get; }

    /// <summary>The gateway endpoint on loopback.</summary>
    public IPEndPoint GatewayEndpoint => new(IPAddress.Loopback, GatewayPort);

    /// <summary>Whether the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Everything the process printed so far, for failure messages.</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>Starts the silo host with free ports and the given settings (configuration keys such as <c>Embeddings:Cluster:Clustering</c>).</summary>
    public static SiloProcess Start(string name, IReadOnlyDictionary<string, string> settings, string? assembly = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var ports = LoopbackPorts.GetFree(3);
        var startInfo = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add(assembly ?? RepositoryPaths.SiloAssembly);
        var environment = new Dictionary<string, string>
        {
            ["Urls"] = $"http://127.0.0.1:{ports[0]}",
            ["Embeddings:Cluster:SiloPort"] = ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Embeddings:Cluster:GatewayPort"] = ports[2].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Embeddings:Cluster:AdvertisedAddress"] = "127.0.0.1",
            ["DOTNET_ENVIRONMENT"] = "Development",
            ["Embeddings:Demo:Enabled"] = "false",
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        foreach (var (key, value) in environment)
        {
            startInfo.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var silo = new SiloProcess(name, process, new Uri($"http://127.0.0.1:{ports[0]}"), ports[1], ports[2]);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { silo._output.Enqueue(e.Data); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { silo._output.Enqueue(e.Data); } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo;
    }

    /// <summary>GETs a path on the silo's web port; returns the status code and body.</summary>
    public async Task<(HttpStatusCode Status, string Body)> GetAsync(string path, CancellationToken cancellationToken = default)
    {
        using var response = await s_http.GetAsync(new Uri(HttpAddress, path), cancellationToken).ConfigureAwait(false);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Waits until <c>/ready</c> answers 200, failing with the process output when it exits or times out.</summary>
    public async Task WaitUntilReadyAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        var last = "no answer yet";
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Silo {Name} exited with {_process.ExitCode} before it was ready:\n{Output}");
            }

            try
            {
                var (status, body) = await GetAsync("/ready", cancellationToken).ConfigureAwait(false);
                if (status == HttpStatusCode.OK)
                {
                    return;
                }

                last = $"{(int)status} {body}";
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }
            catch (TaskCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                last = ex.Message;
            }

            await Task.Delay(250, cancellationToken).ConfigureAwait(false);
        }

        throw new TimeoutException($"Silo {Name} was not ready within {timeout} (last /ready: {last}):\n{Output}");
    }

    /// <summary>Kills the process at once (SIGKILL on Linux): no shutdown, no goodbye to the cluster.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Waits for the process to exit by itself and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        return _process.ExitCode;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        _process.Dispose();
    }
}
