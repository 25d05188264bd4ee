using System.Net;
using System.Net.Sockets;

namespace Orleans.Embeddings.Testing;

/// <summary>Finds free TCP ports on 127.0.0.1 for servers a test starts.</summary>
/// <remarks>
/// Ports come from below Linux's ephemeral range (32768 and up by default): a port the kernel handed
/// out as "free" from that range can be taken a moment later as the source port of any outgoing
/// connection (a database client, an HTTP call), and the server then fails to bind. A port is handed
/// out only once per process, and only after binding it succeeded.
/// </remarks>
public static class LoopbackPorts
{
    private const int First = 20000;
    private const int Last = 32000;
    private static readonly HashSet<int> s_handedOut = [];

    /// <summary>Returns <paramref name="count"/> distinct ports that were free a moment ago.</summary>
    public static int[] GetFree(int count)
    {
        var ports = new int[count];
        lock (s_handedOut)
        {
            for (var i = 0; i < count; i++)
            {
                int port;
                do
                {
                    port = Random.Shared.Next(First, Last);
                }
                while (s_handedOut.Contains(port) || !IsFree(port));

                s_handedOut.Add(port);
                ports[i] = port;
            }
        }

        return ports;
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
