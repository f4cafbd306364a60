using EdgeRelay.Fuzz.Harness;
using EdgeRelay.Net.Streams;
using EdgeRelay.Stun;
using EdgeRelay.Turn;

namespace EdgeRelay.Fuzz.Targets;

/// <summary>
/// TURN request handling (RFC 8656) through the sans-I/O core: a script (<see cref="TurnScriptRecord"/>) of
/// datagrams and stream bytes from four clients, peer datagrams and the passing of time, against one fresh
/// <see cref="TurnServer"/>. TCP sources are framed as StreamConnection frames them; a stream that is not
/// STUN or ChannelData closes its connection and ends its allocation, as the socket layer does.
/// </summary>
public static class TurnTarget
{
    private const int MaxRecords = 64;

    public static void Run(ReadOnlySpan<byte> input) => RunScript(input);

    /// <summary>As <see cref="Run"/>; the counters tell the corpus replay which paths a script reached.</summary>
    public static TurnCounters RunScript(ReadOnlySpan<byte> input)
    {
        var relay = new FuzzRelay();
        var streams = new StreamState[FuzzRelay.Sources.Length];
        for (int i = 0; i < streams.Length; i++)
        {
            streams[i] = new StreamState();
        }
        int records = 0;
        while (records++ < MaxRecords && TurnScriptRecord.TryRead(ref input, out TurnScriptRecord record))
        {
            if (record.Advance > TimeSpan.Zero)
            {
                relay.Advance(record.Advance);
            }
            FiveTuple source = FuzzRelay.Sources[record.Source];
            if (record.IsFromPeer)
            {
                relay.DeliverFromPeer(source, FuzzRelay.Peer, record.Payload);
                continue;
            }
            ReadOnlySpan<byte> payload = record.IsResigned ? relay.Resign(source, record.Payload) : record.Payload;
            if (source.Protocol == TransportProtocol.Udp)
            {
                relay.Deliver(source, payload);
            }
            else
            {
                streams[record.Source].Receive(relay, source, payload);
            }
        }
        relay.Advance(TimeSpan.FromHours(2));
        FuzzInvariantException.Check(relay.Server.AllocationCount == 0 && relay.Binder.OpenCount == 0,
            "allocations or relay sockets outlived every lifetime");
        return relay.Server.Counters;
    }

    /// <summary>One TCP connection's receive buffer, as StreamConnection keeps it.</summary>
    private sealed class StreamState
    {
        private readonly List<byte> _buffered = [];
        private bool _closed;

        public void Receive(FuzzRelay relay, in FiveTuple source, ReadOnlySpan<byte> bytes)
        {
            if (_closed)
            {
                return;
            }
            _buffered.AddRange(bytes);
            byte[] pending = [.. _buffered];
            int start = 0;
            while (true)
            {
                FrameStatus status = StreamFramer.TryGetFrame(pending.AsSpan(start), out int frameLength, out int messageLength);
                if (status == FrameStatus.Invalid)
                {
                    // RFC 8656 §12.5: not STUN and not ChannelData: the connection is closed, and with it the allocation.
                    _closed = true;
                    relay.Server.DeleteAllocation(source, "connection closed: not STUN or ChannelData");
                    _buffered.Clear();
                    return;
                }
                if (status == FrameStatus.Incomplete)
                {
                    break;
                }
                relay.Deliver(source, pending.AsSpan(start, messageLength));
                start += frameLength;
            }
            _buffered.RemoveRange(0, start);
        }
    }
}
