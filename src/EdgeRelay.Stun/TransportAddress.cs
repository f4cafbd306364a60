using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;

namespace EdgeRelay.Stun;

/// <summary>
/// An IP address and port (RFC 8489 §3, "transport address") as a value: no heap object, cheap to hash
/// and compare, so that it can key the five-tuple, permission and channel tables on the packet path.
/// An IPv4 address keeps its four bytes first in <see cref="_high"/>; the family tells the two apart.
/// </summary>
public readonly struct TransportAddress : IEquatable<TransportAddress>
{
    private readonly ulong _high;
    private readonly ulong _low;

    public StunAddressFamily Family { get; }
    public ushort Port { get; }

    private TransportAddress(StunAddressFamily family, ulong high, ulong low, ushort port)
    {
        Family = family;
        _high = high;
        _low = low;
        Port = port;
    }

    public bool IsIPv4 => Family == StunAddressFamily.IPv4;
    public bool IsIPv6 => Family == StunAddressFamily.IPv6;

    /// <summary>Length of the address bytes: 4 for IPv4, 16 for IPv6, 0 for none.</summary>
    public int AddressLength => Family switch
    {
        StunAddressFamily.IPv4 => 4,
        StunAddressFamily.IPv6 => 16,
        _ => 0,
    };

    public static TransportAddress FromIPv4(ReadOnlySpan<byte> address, ushort port)
    {
        Debug.Assert(address.Length == 4);
        return new TransportAddress(StunAddressFamily.IPv4, (ulong)BinaryPrimitives.ReadUInt32BigEndian(address) << 32, 0, port);
    }

    public static TransportAddress FromIPv4(uint addressBigEndianValue, ushort port) =>
        new(StunAddressFamily.IPv4, (ulong)addressBigEndianValue << 32, 0, port);

    public static TransportAddress FromIPv6(ReadOnlySpan<byte> address, ushort port)
    {
        Debug.Assert(address.Length == 16);
        return new TransportAddress(StunAddressFamily.IPv6,
            BinaryPrimitives.ReadUInt64BigEndian(address), BinaryPrimitives.ReadUInt64BigEndian(address[8..]), port);
    }

    public static TransportAddress FromIPAddress(IPAddress address, int port)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int written))
        {
            throw new ArgumentException("unsupported address", nameof(address));
        }
        return written == 4 ? FromIPv4(bytes[..4], (ushort)port) : FromIPv6(bytes, (ushort)port);
    }

    public static TransportAddress FromIPEndPoint(IPEndPoint endPoint) => FromIPAddress(endPoint.Address, endPoint.Port);

    /// <summary>The IPv4 address as a big-endian 32-bit value; only meaningful when <see cref="IsIPv4"/>.</summary>
    public uint IPv4Value => (uint)(_high >> 32);

    /// <summary>Writes the 4 or 16 address bytes in network order and returns how many.</summary>
    public int WriteAddressBytes(Span<byte> destination)
    {
        switch (Family)
        {
            case StunAddressFamily.IPv4:
                BinaryPrimitives.WriteUInt32BigEndian(destination, IPv4Value);
                return 4;
            case StunAddressFamily.IPv6:
                BinaryPrimitives.WriteUInt64BigEndian(destination, _high);
                BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _low);
                return 16;
            default:
                return 0;
        }
    }

    public TransportAddress WithPort(ushort port) => new(Family, _high, _low, port);

    /// <summary>Same IP address, whatever the port: TURN permissions are per address (RFC 8656 §9).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool HasSameAddress(in TransportAddress other) =>
        Family == other.Family && _high == other._high && _low == other._low;

    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        int length = WriteAddressBytes(bytes);
        return length == 0 ? IPAddress.None : new IPAddress(bytes[..length]);
    }

    public IPEndPoint ToIPEndPoint() => new(ToIPAddress(), Port);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Equals(TransportAddress other) =>
        _high == other._high && _low == other._low && Port == other.Port && Family == other.Family;

    public override bool Equals(object? obj) => obj is TransportAddress other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_high, _low, Port, Family);

    public static bool operator ==(TransportAddress left, TransportAddress right) => left.Equals(right);
    public static bool operator !=(TransportAddress left, TransportAddress right) => !left.Equals(right);

    public override string ToString() => Family switch
    {
        StunAddressFamily.IPv4 => $"{ToIPAddress()}:{Port}",
        StunAddressFamily.IPv6 => $"[{ToIPAddress()}]:{Port}",
        _ => "(none)",
    };
}
