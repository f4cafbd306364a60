using System.Runtime.CompilerServices;

namespace EdgeRelay.Stun;

public static class StunPadding
{
    /// <summary>RFC 8489 §14: attribute values are padded to a multiple of 4 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Pad4(int length) => (length + 3) & ~3;
}
