using BenchmarkDotNet.Attributes;
using EdgeRelay.Stun;
using EdgeRelay.Turn;

namespace EdgeRelay.Benchmarks.Turn;

/// <summary>
/// One relay step of the ChannelData fast path through the core, both ways (RFC 8656 §12.6 and §12.7):
/// a client's ChannelData on a bound channel becomes a datagram to the peer, and a peer's datagram becomes
/// ChannelData to the client, its header written in place in front of the payload. DESIGN.md: it must not
/// allocate, so Allocated must read "-".
/// </summary>
[MemoryDiagnoser]
public class ChannelDataRelayBenchmarks : RelayStepBenchmarks
{
    protected override TransportAddress Peer => StunSamples.ChannelPeer;

    protected override byte[] BuildToPeer(byte[] payload) => StunSamples.ChannelDataMessage(RelayFixture.ChannelNumber, payload);

    public override void Check()
    {
        TurnAction toPeer = ClientToPeer();
        BenchmarkSetupException.ThrowUnless(toPeer.Kind == TurnActionKind.SendToPeer && toPeer.Destination == Peer
            && toPeer.Offset == ChannelData.HeaderLength && toPeer.Length == PayloadLength, "ChannelData from the client goes to the peer");
        TurnAction toClient = PeerToClient();
        BenchmarkSetupException.ThrowUnless(toClient.Kind == TurnActionKind.SendToClient && toClient.Destination == FiveTuple.Client
            && toClient.Offset == TurnServer.PeerDataHeadroom - ChannelData.HeaderLength
            && toClient.Length == ChannelData.HeaderLength + PayloadLength, "the peer's datagram goes to the client as ChannelData");
    }

    [Benchmark]
    public TurnAction ClientToPeer() => RelayToPeer();

    [Benchmark]
    public TurnAction PeerToClient() => RelayFromPeer();
}
