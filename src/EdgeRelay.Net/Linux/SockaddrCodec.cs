using System.Buffers.Binary;
using EdgeRelay.Stun;

namespace EdgeRelay.Net.Linux;

/// <summary>sockaddr_in and sockaddr_in6 in native memory, read and written without an EndPoint.</summary>
internal static unsafe class SockaddrCodec
{
    public static TransportAddress Read(byte* sockaddr)
    {
        var raw = new ReadOnlySpan<byte>(sockaddr, Libc.SockaddrIn6Size);
        ushort family = BitConverter.ToUInt16(raw); // sa_family_t is in host order
        ushort port = BinaryPrimitives.ReadUInt16BigEndian(raw[2..]);
        if (family == Libc.AfInet)
        {
            return TransportAddress.FromIPv4(raw.Slice(4, 4), port);
        }
        ReadOnlySpan<byte> address = raw.Slice(8, 16);
        return TransportAddress.FromIPv6(address, port);
    }

    /// <summary>Writes <paramref name="address"/> as the socket's family expects; returns the sockaddr length.</summary>
    public static uint Write(byte* sockaddr, in TransportAddress address, bool ipv6Socket)
    {
        var raw = new Span<byte>(sockaddr, Libc.SockaddrIn6Size);
        raw.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(raw[2..], address.Port);
        if (!ipv6Socket)
        {
            BitConverter.TryWriteBytes(raw, Libc.AfInet);
            address.WriteAddressBytes(raw[4..]);
            return 16;
        }
        BitConverter.TryWriteBytes(raw, Libc.AfInet6);
        address.WriteAddressBytes(raw.Slice(8, 16));
        return Libc.SockaddrIn6Size;
    }
}
