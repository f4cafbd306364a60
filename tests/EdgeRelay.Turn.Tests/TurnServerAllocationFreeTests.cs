using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Tests.Infrastructure;

namespace EdgeRelay.Turn.Tests;

/// <summary>DESIGN.md: the relay path (client -> peer and back) must not allocate.</summary>
public sealed class TurnServerAllocationFreeTests
{
    private const int Iterations = 10_000;
    private static readonly TransportAddress Peer = TurnTestHost.Address("8.8.8.8", 5000);

    [Fact]
    public void Channel_data_relay_in_both_directions_allocates_nothing()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        Allocation allocation = client.AllocateOrFail();
        Assert.True(client.ChannelBind(0x4000, Peer).IsSuccess);
        TurnServer server = host.Server;
        FiveTuple fiveTuple = client.FiveTuple;
        object context = client.ClientContext;
        byte[] toPeer = TurnTestClient.ChannelDataMessage(0x4000, new byte[160]);
        byte[] response = new byte[TurnServer.MinResponseBufferLength];
        const int payloadOffset = TurnServer.PeerDataHeadroom;
        const int payloadLength = 160;
        byte[] fromPeer = new byte[payloadOffset + payloadLength + TurnServer.PeerDataTailroom];

        int wrong = RelayBothWays(server, fiveTuple, context, toPeer, response, allocation, fromPeer, payloadOffset, payloadLength, 1_000);
        Assert.Equal(0, wrong);

        long before = GC.GetAllocatedBytesForCurrentThread();
        wrong = RelayBothWays(server, fiveTuple, context, toPeer, response, allocation, fromPeer, payloadOffset, payloadLength, Iterations);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, wrong);
        Assert.Equal(0, allocated);
        Assert.Equal(1_000 + Iterations, allocation.PacketsToPeers);
        Assert.Equal(1_000 + Iterations, allocation.PacketsFromPeers);
    }

    private static int RelayBothWays(TurnServer server, FiveTuple fiveTuple, object context, byte[] toPeer, byte[] response,
        Allocation allocation, byte[] fromPeer, int payloadOffset, int payloadLength, int iterations)
    {
        int wrong = 0;
        for (int i = 0; i < iterations; i++)
        {
            TurnAction out1 = server.HandleClientPacket(fiveTuple, context, toPeer, response);
            if (out1.Kind != TurnActionKind.SendToPeer || out1.Length != payloadLength)
            {
                wrong++;
            }
            TurnAction out2 = server.HandlePeerDatagram(allocation, Peer, fromPeer, payloadOffset, payloadLength);
            if (out2.Kind != TurnActionKind.SendToClient || out2.Offset != payloadOffset - ChannelData.HeaderLength)
            {
                wrong++;
            }
        }
        return wrong;
    }

    [Fact]
    public void Send_and_data_indication_relay_allocates_nothing()
    {
        var host = new TurnTestHost();
        TurnTestClient client = host.Client();
        Allocation allocation = client.AllocateOrFail();
        Assert.True(client.CreatePermission(Peer).IsSuccess);
        TurnServer server = host.Server;
        FiveTuple fiveTuple = client.FiveTuple;
        object context = client.ClientContext;
        byte[] send = TurnTestClient.SendIndication(Peer, new byte[160]);
        byte[] response = new byte[TurnServer.MinResponseBufferLength];
        const int payloadOffset = TurnServer.PeerDataHeadroom;
        const int payloadLength = 161;
        byte[] fromPeer = new byte[payloadOffset + payloadLength + TurnServer.PeerDataTailroom];

        int wrong = RelayIndications(server, fiveTuple, context, send, response, allocation, fromPeer, payloadOffset, payloadLength, 1_000);
        Assert.Equal(0, wrong);

        long before = GC.GetAllocatedBytesForCurrentThread();
        wrong = RelayIndications(server, fiveTuple, context, send, response, allocation, fromPeer, payloadOffset, payloadLength, Iterations);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, wrong);
        Assert.Equal(0, allocated);
    }

    private static int RelayIndications(TurnServer server, FiveTuple fiveTuple, object context, byte[] send, byte[] response,
        Allocation allocation, byte[] fromPeer, int payloadOffset, int payloadLength, int iterations)
    {
        int wrong = 0;
        for (int i = 0; i < iterations; i++)
        {
            if (server.HandleClientPacket(fiveTuple, context, send, response).Kind != TurnActionKind.SendToPeer)
            {
                wrong++;
            }
            if (server.HandlePeerDatagram(allocation, Peer, fromPeer, payloadOffset, payloadLength).Kind != TurnActionKind.SendToClient)
            {
                wrong++;
            }
        }
        return wrong;
    }
}
