using System.Text;

namespace EdgeRelay.Stun;

/// <summary>ERROR-CODE, RFC 8489 §14.8: class (hundreds) and number, then a UTF-8 reason phrase.</summary>
public static class StunErrorCodeCodec
{
    public static bool TryDecode(ReadOnlySpan<byte> value, out int code, out ReadOnlySpan<byte> reason)
    {
        code = 0;
        reason = default;
        if (value.Length < 4)
        {
            return false;
        }
        int @class = value[2] & 0x07;
        int number = value[3];
        if (@class < 3 || @class > 6 || number > 99)
        {
            return false;
        }
        code = @class * 100 + number;
        reason = value[4..];
        return true;
    }

    public static int Encode(Span<byte> destination, int code, string reason)
    {
        destination[0] = 0;
        destination[1] = 0;
        destination[2] = (byte)(code / 100);
        destination[3] = (byte)(code % 100);
        return 4 + Encoding.UTF8.GetBytes(reason, destination[4..]);
    }
}
