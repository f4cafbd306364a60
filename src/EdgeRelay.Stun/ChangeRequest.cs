using System.Buffers.Binary;

namespace EdgeRelay.Stun;

/// <summary>The two flags of CHANGE-REQUEST (RFC 5780 §7.2): bits A and B of its 32-bit value.</summary>
[Flags]
public enum ChangeRequestFlags : byte
{
    None = 0,

    /// <summary>"change port" (B): answer from the other port.</summary>
    ChangePort = 0x02,

    /// <summary>"change IP" (A): answer from the other IP address.</summary>
    ChangeIP = 0x04,
}

/// <summary>CHANGE-REQUEST, RFC 5780 §7.2: a 32-bit value whose only meaningful bits are "change IP" and "change port".</summary>
public static class ChangeRequest
{
    public const int ValueLength = 4;

    /// <summary>False when the value is not 4 bytes; bits other than A and B are ignored, as RFC 5780 §7.2 leaves them zero.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> value, out ChangeRequestFlags flags)
    {
        if (value.Length != ValueLength)
        {
            flags = ChangeRequestFlags.None;
            return false;
        }
        flags = (ChangeRequestFlags)(BinaryPrimitives.ReadUInt32BigEndian(value) & (uint)(ChangeRequestFlags.ChangeIP | ChangeRequestFlags.ChangePort));
        return true;
    }

    public static void Encode(Span<byte> value, ChangeRequestFlags flags) => BinaryPrimitives.WriteUInt32BigEndian(value, (uint)flags);
}
