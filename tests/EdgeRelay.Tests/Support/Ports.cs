using System.Net;
using System.Net.Sockets;

namespace EdgeRelay.Tests.Support;

public static class Ports
{
    /// <summary>A UDP port on loopback that was free a moment ago, for programs that want a number.</summary>
    public static int FreeUdpPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    private static int _nextRange = 40000 + Environment.ProcessId % 50 * 100;

    /// <summary>A relay port range of 100 ports of its own for each relay a test starts.</summary>
    public static (int First, int Last) RelayRange()
    {
        int first = Interlocked.Add(ref _nextRange, 100);
        return (first, first + 99);
    }
}
