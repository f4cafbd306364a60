using System.Net;
using System.Net.Sockets;

namespace EdgeRelay.Tests.Support;

public static class Ports
{
    /// <summary>
    /// A port on loopback that was free a moment ago for UDP and TCP alike, on 127.0.0.1 and ::1, for
    /// programs that want a number.
    /// </summary>
    public static int FreeUdpPort()
    {
        while (true)
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)udp.LocalEndPoint!).Port;
            if (IsFree(SocketType.Stream, ProtocolType.Tcp, IPAddress.Loopback, port)
                && IsFree(SocketType.Stream, ProtocolType.Tcp, IPAddress.IPv6Loopback, port)
                && IsFree(SocketType.Dgram, ProtocolType.Udp, IPAddress.IPv6Loopback, port))
            {
                return port;
            }
        }
    }

    private static bool IsFree(SocketType type, ProtocolType protocol, IPAddress address, int port)
    {
        using var socket = new Socket(address.AddressFamily, type, protocol);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int _nextRange = 40000 + Environment.ProcessId % 50 * 100;

    /// <summary>A relay port range of 100 ports of its own for each relay a test starts.</summary>
    public static (int First, int Last) RelayRange()
    {
        int first = Interlocked.Add(ref _nextRange, 100);
        return (first, first + 99);
    }
}
