using BenchmarkDotNet.Attributes;
using EdgeRelay.Stun;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Benchmarks.Turn;

/// <summary>
/// One relay step of the ChannelData fast path through the core, both ways (RFC 8656 §12.6 and §12.7):
/// a client's ChannelData on a bound channel becomes a datagram to the peer, and a peer's datagram becomes
/// ChannelData to the client, its header written in place in front of the payload. DESIGN.md: it must not
/// allocate, so Allocated must read "-".
/// </summary>
[MemoryDiagnoser]
public class ChannelDataRelayBenchmarks
{
    private readonly byte[] _response = new byte[TurnServer.MinResponseBufferLength];
    private RelayFixture _relay = null!;
    private TurnServer _server = null!;
    private FiveTuple _fiveTuple;
    private object _clientContext = null!;
    private Allocation _allocation = null!;
    private TransportAddress _peer;
    private byte[] _toPeer = [];
    private byte[] _fromPeer = [];

    /// <summary>A small media packet (audio, RTCP) and one near the usual WebRTC MTU budget.</summary>
    [Params(100, 1200)]
    public int PayloadLength { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _relay = new RelayFixture();
        _server = _relay.Server;
        _fiveTuple = _relay.FiveTuple;
        _clientContext = _relay.ClientContext;
        _allocation = _relay.Allocation;
        _peer = StunSamples.ChannelPeer;
        _toPeer = StunSamples.ChannelDataMessage(RelayFixture.ChannelNumber, StunSamples.Payload(PayloadLength));
        // As the UDP relay endpoint receives it: headroom for a header in front, tailroom for padding after.
        _fromPeer = new byte[TurnServer.PeerDataHeadroom + PayloadLength + TurnServer.PeerDataTailroom];
        StunSamples.Payload(PayloadLength).CopyTo(_fromPeer, TurnServer.PeerDataHeadroom);
        Check();
    }

    /// <summary>Run before and after: a relay step that dropped the packet would time the wrong path.</summary>
    [GlobalCleanup]
    public void Check()
    {
        TurnAction toPeer = ClientToPeer();
        BenchmarkSetupException.ThrowUnless(toPeer.Kind == TurnActionKind.SendToPeer && toPeer.Destination == _peer
            && toPeer.Offset == ChannelData.HeaderLength && toPeer.Length == PayloadLength, "ChannelData from the client goes to the peer");
        TurnAction toClient = PeerToClient();
        BenchmarkSetupException.ThrowUnless(toClient.Kind == TurnActionKind.SendToClient && toClient.Destination == _fiveTuple.Client
            && toClient.Offset == TurnServer.PeerDataHeadroom - ChannelData.HeaderLength
            && toClient.Length == ChannelData.HeaderLength + PayloadLength, "the peer's datagram goes to the client as ChannelData");
    }

    [Benchmark]
    public TurnAction ClientToPeer() => _server.HandleClientPacket(_fiveTuple, _clientContext, _toPeer, _response);

    [Benchmark]
    public TurnAction PeerToClient() =>
        _server.HandlePeerDatagram(_allocation, _peer, _fromPeer, TurnServer.PeerDataHeadroom, PayloadLength);
}
