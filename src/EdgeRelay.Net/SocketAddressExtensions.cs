using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using EdgeRelay.Stun;

namespace EdgeRelay.Net;

/// <summary>
/// Converts between the kernel's sockaddr (as .NET's <see cref="SocketAddress"/> holds it) and
/// <see cref="TransportAddress"/> in place, so that the receive and send paths allocate no EndPoint.
/// Layout: sockaddr_in is family(2) port(2, big-endian) address(4); sockaddr_in6 is family(2) port(2)
/// flowinfo(4) address(16) scope_id(4).
/// </summary>
public static class SocketAddressExtensions
{
    public static TransportAddress ToTransportAddress(this SocketAddress socketAddress)
    {
        Span<byte> raw = socketAddress.Buffer.Span;
        ushort port = BinaryPrimitives.ReadUInt16BigEndian(raw[2..]);
        if (socketAddress.Family == AddressFamily.InterNetwork)
        {
            return TransportAddress.FromIPv4(raw.Slice(4, 4), port);
        }
        ReadOnlySpan<byte> address = raw.Slice(8, 16);
        // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; they are IPv4 clients.
        if (address[..10].IndexOfAnyExcept((byte)0) < 0 && address[10] == 0xFF && address[11] == 0xFF)
        {
            return TransportAddress.FromIPv4(address[12..], port);
        }
        return TransportAddress.FromIPv6(address, port);
    }

    /// <summary>Writes <paramref name="address"/> into a <see cref="SocketAddress"/> of the socket's family.</summary>
    public static void SetTransportAddress(this SocketAddress socketAddress, in TransportAddress address)
    {
        Span<byte> raw = socketAddress.Buffer.Span;
        if (socketAddress.Family == AddressFamily.InterNetwork)
        {
            socketAddress.Size = 16;
            BinaryPrimitives.WriteUInt16BigEndian(raw[2..], address.Port);
            address.WriteAddressBytes(raw[4..]);
            return;
        }
        socketAddress.Size = 28;
        BinaryPrimitives.WriteUInt16BigEndian(raw[2..], address.Port);
        raw.Slice(4, 4).Clear();
        Span<byte> ip = raw.Slice(8, 16);
        if (address.IsIPv4)
        {
            ip[..10].Clear();
            ip[10] = 0xFF;
            ip[11] = 0xFF;
            address.WriteAddressBytes(ip[12..]);
        }
        else
        {
            address.WriteAddressBytes(ip);
        }
        raw.Slice(24, 4).Clear();
    }

    public static SocketAddress CreateFor(AddressFamily family) => new IPEndPoint(
        family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0).Serialize();
}
