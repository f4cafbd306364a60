using EdgeRelay.Fuzz.Harness;
using EdgeRelay.Stun;
using EdgeRelay.Turn;

namespace EdgeRelay.Fuzz.Targets;

/// <summary>
/// ChannelData (RFC 8656 §12.4): the header codec, then the datagram as a client on UDP and on TCP sends
/// it to a relay where channel 0x4000 is bound (the fast path of <see cref="TurnServer.HandleClientPacket"/>).
/// </summary>
public static class ChannelDataTarget
{
    public static void Run(ReadOnlySpan<byte> input)
    {
        if (ChannelData.TryRead(input, out ushort channel, out int length))
        {
            FuzzInvariantException.Check(ChannelData.LooksLikeChannelData(input) && ChannelData.IsValidChannelNumber(channel), "ChannelData read with a channel number out of range");
            FuzzInvariantException.Check(length >= 0 && ChannelData.HeaderLength + length <= input.Length, "ChannelData length beyond the datagram");
            Span<byte> header = stackalloc byte[ChannelData.HeaderLength];
            ChannelData.WriteHeader(header, channel, length);
            FuzzInvariantException.Check(header.SequenceEqual(input[..ChannelData.HeaderLength]), "ChannelData header does not survive a re-encoding");
        }

        var relay = new FuzzRelay();
        foreach (FiveTuple client in new[] { FuzzRelay.Sources[0], FuzzRelay.Sources[2] })
        {
            if (!relay.AllocateAndBindChannel(client, 0x4000, FuzzRelay.Peer))
            {
                throw new FuzzInvariantException("the relay would not allocate and bind a channel for a well-formed client");
            }
            TurnAction action = relay.Deliver(client, input);
            if (action.Kind == TurnActionKind.SendToPeer)
            {
                // RFC 8656 §12.6: only the application data goes to the peer bound to the channel.
                FuzzInvariantException.Check(ChannelData.TryRead(input, out ushort sent, out int dataLength) && sent == 0x4000
                    && action.Offset == ChannelData.HeaderLength && action.Length == dataLength && action.Destination == FuzzRelay.Peer,
                    "ChannelData relayed other bytes than its application data, or to another peer");
            }
        }
    }
}
