using System.Net;
using System.Net.Sockets;

namespace Orleans.Embeddings.Testing;

/// <summary>Finds free TCP ports on 127.0.0.1 for servers a test starts.</summary>
public static class LoopbackPorts
{
    /// <summary>Returns <paramref name="count"/> distinct ports that were free a moment ago.</summary>
    /// <remarks>All listeners are held open together so that the ports differ; another process may still take one before the test binds it.</remarks>
    public static int[] GetFree(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            listeners.ForEach(l => l.Stop());
        }
    }
}
