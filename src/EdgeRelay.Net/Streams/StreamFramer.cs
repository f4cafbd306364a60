using System.Buffers.Binary;
using EdgeRelay.Stun;

namespace EdgeRelay.Net.Streams;

public enum FrameStatus : byte
{
    Incomplete,
    Complete,
    Invalid,
}

/// <summary>
/// Finds message boundaries on a TCP or TLS stream (RFC 8656 §12.5): a STUN message is its 20-byte
/// header plus the length in it; ChannelData is its 4-byte header plus the length in it, padded to a
/// multiple of 4 on a stream. Anything else on the stream is a protocol error.
/// </summary>
public static class StreamFramer
{
    /// <summary>The largest frame a stream can carry: a STUN header and 65535 attribute bytes.</summary>
    public const int MaxFrameLength = StunConstants.HeaderLength + ushort.MaxValue;

    /// <param name="buffered">The bytes received and not yet consumed.</param>
    /// <param name="frameLength">Bytes to consume (known once the header is in, even when incomplete).</param>
    /// <param name="messageLength">Bytes to hand to the core: the frame without the ChannelData padding.</param>
    public static FrameStatus TryGetFrame(ReadOnlySpan<byte> buffered, out int frameLength, out int messageLength)
    {
        frameLength = 0;
        messageLength = 0;
        if (buffered.Length < 4)
        {
            return FrameStatus.Incomplete;
        }
        int length = BinaryPrimitives.ReadUInt16BigEndian(buffered[2..]);
        switch (buffered[0] & 0xC0)
        {
            case 0x00:
                // RFC 8489 §5: the length counts 4-byte aligned attributes, and the magic cookie follows it.
                // A TLS ClientHello or anything else that starts 0b00 fails here, not after a long wait.
                if ((length & 3) != 0
                    || (buffered.Length >= 8 && BinaryPrimitives.ReadUInt32BigEndian(buffered[4..]) != StunConstants.MagicCookie))
                {
                    return FrameStatus.Invalid;
                }
                messageLength = StunConstants.HeaderLength + length;
                frameLength = messageLength;
                break;
            case 0x40:
                messageLength = ChannelData.HeaderLength + length;
                frameLength = StunPadding.Pad4(messageLength);
                break;
            default:
                return FrameStatus.Invalid;
        }
        return buffered.Length >= frameLength ? FrameStatus.Complete : FrameStatus.Incomplete;
    }
}
