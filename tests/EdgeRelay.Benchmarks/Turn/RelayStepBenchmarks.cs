using BenchmarkDotNet.Attributes;
using EdgeRelay.Stun;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Benchmarks.Turn;

/// <summary>
/// What both relay-step benchmarks share: a real <see cref="TurnServer"/> with one allocation, the client's
/// message towards <see cref="Peer"/>, and the peer's datagram as a relay socket receives it (headroom in
/// front for the header the core writes, tailroom behind for padding).
/// </summary>
public abstract class RelayStepBenchmarks
{
    protected byte[] Response { get; } = new byte[TurnServer.MinResponseBufferLength];
    protected TurnServer Server { get; private set; } = null!;
    protected FiveTuple FiveTuple { get; private set; }
    protected object ClientContext { get; private set; } = null!;
    protected Allocation Allocation { get; private set; } = null!;
    protected byte[] ToPeer { get; private set; } = [];
    protected byte[] FromPeer { get; private set; } = [];

    /// <summary>A small media packet (audio, RTCP) and one near the usual WebRTC MTU budget.</summary>
    [Params(100, 1200)]
    public int PayloadLength { get; set; }

    protected abstract TransportAddress Peer { get; }

    /// <summary>The client's message that carries <paramref name="payload"/> to <see cref="Peer"/>.</summary>
    protected abstract byte[] BuildToPeer(byte[] payload);

    [GlobalSetup]
    public void Setup()
    {
        var relay = new RelayFixture();
        Server = relay.Server;
        FiveTuple = relay.FiveTuple;
        ClientContext = relay.ClientContext;
        Allocation = relay.Allocation;
        ToPeer = BuildToPeer(StunSamples.Payload(PayloadLength));
        FromPeer = new byte[TurnServer.PeerDataHeadroom + PayloadLength + TurnServer.PeerDataTailroom];
        StunSamples.Payload(PayloadLength).CopyTo(FromPeer, TurnServer.PeerDataHeadroom);
        Check();
    }

    /// <summary>Run before and after: a relay step that dropped the packet would time the wrong path.</summary>
    [GlobalCleanup]
    public abstract void Check();

    protected TurnAction RelayToPeer() => Server.HandleClientPacket(FiveTuple, ClientContext, ToPeer, Response);

    protected TurnAction RelayFromPeer() => Server.HandlePeerDatagram(Allocation, Peer, FromPeer, TurnServer.PeerDataHeadroom, PayloadLength);
}
