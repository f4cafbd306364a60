using System.Net;
using System.Net.Sockets;

namespace EdgeRelay.Net.Udp;

internal static class RelaySocketOptions
{
    // IPPROTO_IP / IP_MTU_DISCOVER and IPPROTO_IPV6 / IPV6_MTU_DISCOVER from <linux/in.h>, <linux/in6.h>.
    private const int IpProtoIp = 0, IpMtuDiscover = 10, IpProtoIpv6 = 41, Ipv6MtuDiscover = 23;
    public const int PmtuDiscoverDont = 0, PmtuDiscoverDo = 2;

    /// <summary>
    /// A UDP socket bound to a relayed transport address, or null when the port is taken. RFC 8656 §14:
    /// DF is set only when the client asked with DONT-FRAGMENT; otherwise the "alternate behavior", DF
    /// clear, so that the kernel may fragment.
    /// </summary>
    public static Socket? TryBind(IPEndPoint endpoint, bool dontFragment)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (OperatingSystem.IsLinux())
            {
                bool v4 = endpoint.AddressFamily == AddressFamily.InterNetwork;
                Span<byte> value = stackalloc byte[4];
                BitConverter.TryWriteBytes(value, dontFragment ? PmtuDiscoverDo : PmtuDiscoverDont);
                socket.SetRawSocketOption(v4 ? IpProtoIp : IpProtoIpv6, v4 ? IpMtuDiscover : Ipv6MtuDiscover, value);
            }
            socket.Bind(endpoint);
            return socket;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }
}
