using System.Buffers.Binary;

namespace EdgeRelay.Stun;

/// <summary>
/// MAPPED-ADDRESS (RFC 8489 §14.1) and the XOR-ed address attributes (§14.2; XOR-PEER-ADDRESS and
/// XOR-RELAYED-ADDRESS of RFC 8656 §18.3 and §18.5 use the same encoding).
/// </summary>
public static class StunAddressCodec
{
    public const int IPv4ValueLength = 8;
    public const int IPv6ValueLength = 20;

    public static int GetValueLength(in TransportAddress address) => address.IsIPv4 ? IPv4ValueLength : IPv6ValueLength;

    public static bool TryDecode(ReadOnlySpan<byte> value, out TransportAddress address) =>
        TryDecode(value, default, xor: false, out address);

    public static bool TryDecodeXor(ReadOnlySpan<byte> value, ReadOnlySpan<byte> transactionId, out TransportAddress address) =>
        TryDecode(value, transactionId, xor: true, out address);

    private static bool TryDecode(ReadOnlySpan<byte> value, ReadOnlySpan<byte> transactionId, bool xor, out TransportAddress address)
    {
        address = default;
        if (value.Length < 4)
        {
            return false;
        }
        ushort port = BinaryPrimitives.ReadUInt16BigEndian(value[2..]);
        if (xor)
        {
            port ^= (ushort)(StunConstants.MagicCookie >> 16);
        }
        switch ((StunAddressFamily)value[1])
        {
            case StunAddressFamily.IPv4 when value.Length == IPv4ValueLength:
            {
                uint ip = BinaryPrimitives.ReadUInt32BigEndian(value[4..]);
                if (xor)
                {
                    ip ^= StunConstants.MagicCookie;
                }
                address = TransportAddress.FromIPv4(ip, port);
                return true;
            }
            case StunAddressFamily.IPv6 when value.Length == IPv6ValueLength:
            {
                Span<byte> ip = stackalloc byte[16];
                value.Slice(4, 16).CopyTo(ip);
                if (xor)
                {
                    // RFC 8489 §14.2: XOR with the magic cookie followed by the transaction ID.
                    if (transactionId.Length != StunConstants.TransactionIdLength)
                    {
                        return false;
                    }
                    BinaryPrimitives.WriteUInt32BigEndian(ip, BinaryPrimitives.ReadUInt32BigEndian(ip) ^ StunConstants.MagicCookie);
                    for (int i = 0; i < StunConstants.TransactionIdLength; i++)
                    {
                        ip[4 + i] ^= transactionId[i];
                    }
                }
                address = TransportAddress.FromIPv6(ip, port);
                return true;
            }
            default:
                return false;
        }
    }

    /// <summary>Writes the attribute value; returns its length.</summary>
    public static int Encode(Span<byte> destination, in TransportAddress address) =>
        Encode(destination, address, default, xor: false);

    public static int EncodeXor(Span<byte> destination, in TransportAddress address, ReadOnlySpan<byte> transactionId) =>
        Encode(destination, address, transactionId, xor: true);

    private static int Encode(Span<byte> destination, in TransportAddress address, ReadOnlySpan<byte> transactionId, bool xor)
    {
        destination[0] = 0;
        destination[1] = (byte)address.Family;
        ushort port = address.Port;
        if (xor)
        {
            port ^= (ushort)(StunConstants.MagicCookie >> 16);
        }
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], port);
        int length = address.WriteAddressBytes(destination[4..]);
        if (xor)
        {
            Span<byte> ip = destination.Slice(4, length);
            BinaryPrimitives.WriteUInt32BigEndian(ip, BinaryPrimitives.ReadUInt32BigEndian(ip) ^ StunConstants.MagicCookie);
            for (int i = 4; i < length; i++)
            {
                ip[i] ^= transactionId[i - 4];
            }
        }
        return 4 + length;
    }
}
