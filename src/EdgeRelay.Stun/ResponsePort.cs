using System.Buffers.Binary;

namespace EdgeRelay.Stun;

/// <summary>RESPONSE-PORT, RFC 5780 §7.5: a 16-bit port followed by two bytes of padding.</summary>
public static class ResponsePort
{
    public const int ValueLength = 4;

    /// <summary>False when the value is not 4 bytes or the port is 0 (no datagram can go there).</summary>
    public static bool TryDecode(ReadOnlySpan<byte> value, out ushort port)
    {
        port = value.Length == ValueLength ? BinaryPrimitives.ReadUInt16BigEndian(value) : (ushort)0;
        return port != 0;
    }

    public static void Encode(Span<byte> value, ushort port)
    {
        BinaryPrimitives.WriteUInt16BigEndian(value, port);
        value[2..].Clear();
    }
}
