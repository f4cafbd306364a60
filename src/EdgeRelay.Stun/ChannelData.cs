using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace EdgeRelay.Stun;

/// <summary>
/// The ChannelData message of RFC 8656 §12.4: a 2-byte channel number, a 2-byte length and the
/// application data. Over UDP the padding is optional; over TCP and TLS the message is padded to a
/// multiple of 4 bytes (§12.5).
/// </summary>
public static class ChannelData
{
    public const int HeaderLength = 4;

    /// <summary>
    /// RFC 8656 §12 lets clients bind 0x4000 through 0x4FFF; RFC 5766 §11 allowed up to 0x7FFF, and
    /// clients of that RFC (coturn's own turnutils_uclient among them) still pick numbers above 0x4FFF.
    /// Both ranges start with the bits 0b01, so accepting the old range costs nothing in demultiplexing.
    /// </summary>
    public const ushort MinChannelNumber = 0x4000;
    public const ushort MaxChannelNumber = 0x7FFF;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsValidChannelNumber(ushort channel) => channel is >= MinChannelNumber and <= MaxChannelNumber;

    /// <summary>ChannelData starts with the bits 0b01 (RFC 8656 §12; STUN starts with 0b00).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool LooksLikeChannelData(ReadOnlySpan<byte> data) => data.Length > 0 && (data[0] & 0xC0) == 0x40;

    /// <summary>
    /// Reads a ChannelData header. True when the channel number is in the bindable range and the
    /// <paramref name="data"/> holds the whole application data; trailing padding is allowed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryRead(ReadOnlySpan<byte> data, out ushort channel, out int length)
    {
        if (data.Length < HeaderLength)
        {
            channel = 0;
            length = 0;
            return false;
        }
        channel = BinaryPrimitives.ReadUInt16BigEndian(data);
        length = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
        return IsValidChannelNumber(channel) && HeaderLength + length <= data.Length;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteHeader(Span<byte> destination, ushort channel, int length)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, channel);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)length);
    }
}
