using System.Net;
using System.Net.Sockets;
using EdgeRelay.Net.Tests.Support;
using EdgeRelay.Stun;

namespace EdgeRelay.Net.Tests;

/// <summary>The batched engines relay ChannelData both ways without allocating on their loop threads.</summary>
public sealed class BatchedEngineAllocationTests
{
    [Theory]
    [InlineData(SocketBackend.IoUring, 47000)]
    [InlineData(SocketBackend.RecvMmsg, 47030)]
    public async Task Relaying_channel_data_through_the_loops_allocates_nothing_in_steady_state(SocketBackend backend, int firstPort)
    {
        await using var engine = new RelayEngine(AnonymousRelay.Options(firstPort, 25), TimeProvider.System, backend: backend, loops: 1);
        Assert.Equal(backend, engine.Backend);
        engine.Start([new IPEndPoint(IPAddress.Loopback, 0)]);
        IPEndPoint server = engine.LocalEndPoints[0];

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var peerAddress = TransportAddress.FromIPEndPoint((IPEndPoint)peer.LocalEndPoint!);

        AnonymousRelay.Exchange(client, server, StunMethod.Allocate, AnonymousRelay.AddRequestedTransportUdp);
        AnonymousRelay.Exchange(client, server, StunMethod.ChannelBind, AnonymousRelay.ChannelBind(0x4000, peerAddress));

        var buffer = new byte[2048];
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

        // Allocate, ChannelBind and 200 round trips are 402 datagrams into the loop. Reading the datagram
        // count before the allocation sample (which the loop writes in the other order) makes the sample
        // cover every batch counted.
        RoundTrips(200);
        long datagramsBefore = AnonymousRelay.LoopDatagramsReaching(engine, 402);
        long before = engine.LoopAllocatedBytes;
        RoundTrips(2000);
        long datagramsAfter = AnonymousRelay.LoopDatagramsReaching(engine, datagramsBefore + 4000);
        Assert.True(datagramsAfter - datagramsBefore >= 4000, $"the loops counted {datagramsAfter - datagramsBefore} of 4000 datagrams");
        Assert.Equal(0, engine.LoopAllocatedBytes - before);
    }
}
