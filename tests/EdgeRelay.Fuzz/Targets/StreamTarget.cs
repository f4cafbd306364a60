using EdgeRelay.Fuzz.Harness;
using EdgeRelay.Net.Streams;
using EdgeRelay.Stun;

namespace EdgeRelay.Fuzz.Targets;

/// <summary>
/// The TCP/TLS stream deframer (RFC 8656 §12.5, <see cref="StreamFramer"/>): the input is the bytes of one
/// connection. It is framed once as if it arrived in one read and once as it arrives in reads of sizes the
/// input's first byte chooses, as StreamConnection buffers them; both must find the same frames.
/// </summary>
public static class StreamTarget
{
    public static void Run(ReadOnlySpan<byte> input)
    {
        List<(int Start, int MessageLength)> whole = Deframe(input, input.Length, out bool wholeInvalid);
        int chunk = input.Length > 0 ? 1 + (input[0] % 64) : 1;
        List<(int Start, int MessageLength)> pieces = Deframe(input, chunk, out bool piecesInvalid);
        FuzzInvariantException.Check(wholeInvalid == piecesInvalid && whole.SequenceEqual(pieces),
            "framing depends on how the stream was split into reads");
        foreach ((int start, int messageLength) in whole)
        {
            ReadOnlySpan<byte> message = input.Slice(start, messageLength);
            if (ChannelData.LooksLikeChannelData(message))
            {
                FuzzInvariantException.Check(ChannelData.TryRead(message, out _, out int length) ? length + ChannelData.HeaderLength == messageLength
                    : !ChannelData.IsValidChannelNumber((ushort)((message[0] << 8) | message[1])), "a ChannelData frame its reader disagrees with");
            }
            else
            {
                FuzzInvariantException.Check(StunMessageReader.LooksLikeStun(message), "a frame that is neither STUN nor ChannelData");
                _ = StunMessageReader.TryParse(message, out _);
            }
        }
    }

    /// <summary>StreamConnection's loop: read up to <paramref name="readSize"/> bytes, take every complete frame.</summary>
    private static List<(int Start, int MessageLength)> Deframe(ReadOnlySpan<byte> stream, int readSize, out bool invalid)
    {
        var found = new List<(int, int)>();
        invalid = false;
        int start = 0, end = 0;
        while (end < stream.Length)
        {
            end = Math.Min(stream.Length, end + readSize);
            while (true)
            {
                FrameStatus status = StreamFramer.TryGetFrame(stream[start..end], out int frameLength, out int messageLength);
                if (status == FrameStatus.Invalid)
                {
                    invalid = true;
                    return found;
                }
                FuzzInvariantException.Check(frameLength <= StreamFramer.MaxFrameLength + 3, "a frame longer than a stream can carry");
                if (status == FrameStatus.Incomplete)
                {
                    FuzzInvariantException.Check(end - start < 4 || frameLength > end - start, "an incomplete frame that is all there");
                    break;
                }
                FuzzInvariantException.Check(messageLength >= 4 && messageLength <= frameLength && frameLength - messageLength <= 3
                    && frameLength <= end - start, "a complete frame outside the bytes received");
                found.Add((start, messageLength));
                start += frameLength;
            }
        }
        return found;
    }
}
