using System.Runtime.CompilerServices;

namespace EdgeRelay.Stun;

/// <summary>
/// Packs and unpacks the 14-bit STUN message type: the method's 12 bits interleaved with the class's
/// two bits C1 (bit 8) and C0 (bit 4), RFC 8489 §5 figure 3.
/// </summary>
public static class StunMessageType
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Encode(StunMethod method, StunClass @class)
    {
        int m = (int)method;
        int c = (int)@class;
        return (ushort)((m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2)
                        | ((c & 0b01) << 4) | ((c & 0b10) << 7));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static StunMethod GetMethod(ushort type) =>
        (StunMethod)((type & 0x000F) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0F80));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static StunClass GetClass(ushort type) =>
        (StunClass)(((type >> 4) & 0b01) | ((type >> 7) & 0b10));
}
