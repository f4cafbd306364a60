using BenchmarkDotNet.Attributes;
using EdgeRelay.Stun;
using EdgeRelay.Turn;

namespace EdgeRelay.Benchmarks.Turn;

/// <summary>
/// One relay step without a channel (RFC 8656 §11): a client's Send indication (XOR-PEER-ADDRESS, DATA,
/// FINGERPRINT) is parsed, its FINGERPRINT checked, and its DATA goes to a peer with a permission; a peer's
/// datagram goes back as a Data indication whose header the core writes in place in front of the payload.
/// </summary>
[MemoryDiagnoser]
public class IndicationRelayBenchmarks : RelayStepBenchmarks
{
    protected override TransportAddress Peer => StunSamples.IndicationPeer;

    protected override byte[] BuildToPeer(byte[] payload) => StunSamples.SendIndication(Peer, payload);

    public override void Check()
    {
        TurnAction toPeer = SendIndicationClientToPeer();
        BenchmarkSetupException.ThrowUnless(toPeer.Kind == TurnActionKind.SendToPeer && toPeer.Destination == Peer
            && toPeer.Length == PayloadLength, "the Send indication's DATA goes to the peer");
        TurnAction toClient = DataIndicationPeerToClient();
        // Header 20, XOR-PEER-ADDRESS (IPv4) 12, DATA header 4, then the payload padded to 4 bytes.
        int expected = 20 + 12 + 4 + (PayloadLength + 3) / 4 * 4;
        BenchmarkSetupException.ThrowUnless(toClient.Kind == TurnActionKind.SendToClient && toClient.Destination == FiveTuple.Client
            && toClient.Length == expected && StunMessageReader.TryParse(toClient.GetBytes(FromPeer, default), out _) == StunParseError.None,
            "the peer's datagram goes to the client as a Data indication");
    }

    [Benchmark]
    public TurnAction SendIndicationClientToPeer() => RelayToPeer();

    [Benchmark]
    public TurnAction DataIndicationPeerToClient() => RelayFromPeer();
}
