using System.Net;
using System.Net.Sockets;
using EdgeRelay.Stun;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Net.Tests;

/// <summary>The batched engine relays ChannelData both ways without allocating on its loop threads.</summary>
public sealed class BatchedEngineAllocationTests
{
    [Fact]
    public async Task Relaying_channel_data_through_the_loops_allocates_nothing_in_steady_state()
    {
        int first = 47000 + Environment.ProcessId % 40 * 25;
        var options = new TurnServerOptions
        {
            Realm = "edgerelay.test",
            RelayAddressIPv4 = IPAddress.Loopback,
            RelayPortMin = first,
            RelayPortMax = first + 24,
            AllowAnonymous = true, // this test is about the packet path, not credentials
            PeerPolicy = new PeerAddressPolicy(allowLoopback: true),
        };
        await using var engine = new RelayEngine(options, TimeProvider.System, backend: SocketBackend.Batched, loops: 1);
        engine.Start([new IPEndPoint(IPAddress.Loopback, 0)]);
        IPEndPoint server = engine.LocalEndPoints[0];

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var peerAddress = TransportAddress.FromIPEndPoint((IPEndPoint)peer.LocalEndPoint!);

        var buffer = new byte[2048];
        Exchange(client, server, buffer, StunMethod.Allocate, (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.RequestedTransport, 17u << 24));
        Exchange(client, server, buffer, StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            Span<byte> number = w.AddAttribute(StunAttributeType.ChannelNumber, 4);
            number.Clear();
            number[0] = 0x40;
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress);
        });

        byte[] frame = new byte[4 + 100];
        ChannelData.WriteHeader(frame, 0x4000, 100);
        EndPoint relayed = new IPEndPoint(IPAddress.Any, 0);
        void RoundTrips(int count)
        {
            for (int i = 0; i < count; i++)
            {
                client.SendTo(frame, server);
                int n = peer.ReceiveFrom(buffer, ref relayed);
                Assert.Equal(100, n);
                peer.SendTo(buffer.AsSpan(0, n), SocketFlags.None, relayed);
                n = client.Receive(buffer);
                Assert.Equal(104, n);
            }
        }

        RoundTrips(200);
        long before = engine.LoopAllocatedBytes;
        long datagramsBefore = engine.LoopDatagrams;
        RoundTrips(2000);
        Assert.True(engine.LoopDatagrams - datagramsBefore >= 4000, "the loops carried the traffic");
        Assert.Equal(0, engine.LoopAllocatedBytes - before);
    }

    private delegate void Attributes(ref StunMessageWriter writer);

    private static void Exchange(Socket client, IPEndPoint server, byte[] buffer, StunMethod method, Attributes attributes)
    {
        var writer = new StunMessageWriter(buffer, method, StunClass.Request, Guid.NewGuid().ToByteArray().AsSpan(0, 12));
        attributes(ref writer);
        client.SendTo(buffer.AsSpan(0, writer.Length), SocketFlags.None, server);
        int n = client.Receive(buffer);
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(buffer.AsSpan(0, n), out StunMessageReader response));
        Assert.Equal(StunClass.SuccessResponse, response.Class);
    }
}
