using System.Net;
using System.Net.Sockets;
using EdgeRelay.Net.Tests.Support;
using EdgeRelay.Stun;

namespace EdgeRelay.Net.Tests;

/// <summary>
/// A burst from a peer larger than a loop's buffers (io_uring: 256 provided buffers, after which the
/// multishot receive ends with ENOBUFS and must be armed again; recvmmsg: many batches in a row) is
/// relayed, and the allocation keeps relaying afterwards in both directions.
/// </summary>
public sealed class BatchedEngineBurstTests
{
    private const int Burst = 3000;

    [Theory]
    [InlineData(SocketBackend.IoUring, 48100)]
    [InlineData(SocketBackend.RecvMmsg, 48150)]
    public async Task A_burst_beyond_the_loop_buffers_is_relayed_and_relaying_goes_on(SocketBackend backend, int firstPort)
    {
        await using var engine = new RelayEngine(AnonymousRelay.Options(firstPort, 25), TimeProvider.System, backend: backend, loops: 1);
        engine.Start([new IPEndPoint(IPAddress.Loopback, 0)]);
        IPEndPoint server = engine.LocalEndPoints[0];

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000, ReceiveBufferSize = 8 << 20 };
        client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var peerAddress = TransportAddress.FromIPEndPoint((IPEndPoint)peer.LocalEndPoint!);

        byte[] allocated = AnonymousRelay.Exchange(client, server, StunMethod.Allocate, AnonymousRelay.AddRequestedTransportUdp);
        StunMessageReader.TryParse(allocated, out StunMessageReader response);
        Assert.True(response.TryGetXorAddress(StunAttributeType.XorRelayedAddress, out TransportAddress relayed));
        AnonymousRelay.Exchange(client, server, StunMethod.ChannelBind, AnonymousRelay.ChannelBind(0x4000, peerAddress));

        long before = engine.LoopDatagrams;
        byte[] payload = new byte[200];
        for (int i = 0; i < Burst; i++)
        {
            BitConverter.TryWriteBytes(payload, i);
            peer.SendTo(payload, relayed.ToIPEndPoint());
        }

        // The burst arrives as ChannelData. The relay socket's receive buffer holds a few hundred of these,
        // so on a busy machine the kernel drops some, as UDP may: the test is that the loop takes in what
        // comes and goes on working, not that loopback is lossless.
        var buffer = new byte[2048];
        int received = 0;
        client.ReceiveTimeout = 1000;
        try
        {
            while (received < Burst)
            {
                int n = client.Receive(buffer);
                Assert.True(ChannelData.TryRead(buffer.AsSpan(0, n), out ushort channel, out int length));
                Assert.Equal(0x4000, channel);
                Assert.Equal(200, length);
                received++;
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
        }
        Assert.True(received > 0, "nothing of the burst was relayed");
        Assert.True(AnonymousRelay.LoopDatagramsReaching(engine, before + received) - before >= received);

        // Afterwards: client → peer and peer → client still flow.
        byte[] frame = new byte[4 + 4];
        ChannelData.WriteHeader(frame, 0x4000, 4);
        "ping"u8.CopyTo(frame.AsSpan(4));
        client.SendTo(frame, server);
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        int got = peer.ReceiveFrom(buffer, ref from);
        Assert.Equal("ping"u8.ToArray(), buffer[..got]);
        peer.SendTo("pong"u8, from);
        client.ReceiveTimeout = 5000;
        while (true)
        {
            got = client.Receive(buffer);
            Assert.True(ChannelData.TryRead(buffer.AsSpan(0, got), out _, out int length));
            if (length == 4)
            {
                Assert.Equal("pong"u8.ToArray(), buffer[4..8]);
                break;
            }
        }
    }
}
