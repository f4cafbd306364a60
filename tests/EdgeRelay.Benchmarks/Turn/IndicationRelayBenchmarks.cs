using BenchmarkDotNet.Attributes;
using EdgeRelay.Stun;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Benchmarks.Turn;

/// <summary>
/// One relay step without a channel (RFC 8656 §11): a client's Send indication (XOR-PEER-ADDRESS, DATA,
/// FINGERPRINT) is parsed, its FINGERPRINT checked, and its DATA goes to a peer with a permission; a peer's
/// datagram goes back as a Data indication whose header the core writes in place in front of the payload.
/// </summary>
[MemoryDiagnoser]
public class IndicationRelayBenchmarks
{
    private readonly byte[] _response = new byte[TurnServer.MinResponseBufferLength];
    private RelayFixture _relay = null!;
    private TurnServer _server = null!;
    private FiveTuple _fiveTuple;
    private object _clientContext = null!;
    private Allocation _allocation = null!;
    private TransportAddress _peer;
    private byte[] _sendIndication = [];
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
        _peer = StunSamples.IndicationPeer;
        _sendIndication = StunSamples.SendIndication(_peer, StunSamples.Payload(PayloadLength));
        _fromPeer = new byte[TurnServer.PeerDataHeadroom + PayloadLength + TurnServer.PeerDataTailroom];
        StunSamples.Payload(PayloadLength).CopyTo(_fromPeer, TurnServer.PeerDataHeadroom);
        Check();
    }

    /// <summary>Run before and after: a relay step that dropped the packet would time the wrong path.</summary>
    [GlobalCleanup]
    public void Check()
    {
        TurnAction toPeer = SendIndicationClientToPeer();
        BenchmarkSetupException.ThrowUnless(toPeer.Kind == TurnActionKind.SendToPeer && toPeer.Destination == _peer
            && toPeer.Length == PayloadLength, "the Send indication's DATA goes to the peer");
        TurnAction toClient = DataIndicationPeerToClient();
        // Header 20, XOR-PEER-ADDRESS (IPv4) 12, DATA header 4, then the payload padded to 4 bytes.
        int expected = 20 + 12 + 4 + (PayloadLength + 3) / 4 * 4;
        BenchmarkSetupException.ThrowUnless(toClient.Kind == TurnActionKind.SendToClient && toClient.Destination == _fiveTuple.Client
            && toClient.Length == expected && StunMessageReader.TryParse(toClient.GetBytes(_fromPeer, default), out _) == StunParseError.None,
            "the peer's datagram goes to the client as a Data indication");
    }

    [Benchmark]
    public TurnAction SendIndicationClientToPeer() => _server.HandleClientPacket(_fiveTuple, _clientContext, _sendIndication, _response);

    [Benchmark]
    public TurnAction DataIndicationPeerToClient() =>
        _server.HandlePeerDatagram(_allocation, _peer, _fromPeer, TurnServer.PeerDataHeadroom, PayloadLength);
}
