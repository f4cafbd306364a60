using System.Net;
using System.Net.Sockets;
using EdgeRelay.Net.Streams;
using EdgeRelay.Net.Tests.Support;
using EdgeRelay.Stun;
using EdgeRelay.Turn;

namespace EdgeRelay.Net.Tests;

/// <summary>A TCP client that stops reading costs the relay a bounded queue, not memory without end.</summary>
public sealed class SlowStreamClientTests
{
    [Fact]
    public async Task A_tcp_client_that_does_not_read_loses_packets_beyond_the_queue_limit_and_the_relay_keeps_serving()
    {
        await using var engine = new RelayEngine(AnonymousRelay.Options(46000, 50), TimeProvider.System,
            streamLimits: new StreamLimits { MaxBufferedBytes = 100_000 });
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        probe.Dispose();
        engine.Start([new ListenerOptions(TransportProtocol.Tcp, new IPEndPoint(IPAddress.Loopback, port)), ListenerOptions.Udp(new IPEndPoint(IPAddress.Loopback, 0))]);

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await client.ConnectAsync(IPAddress.Loopback, port);
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var peerAddress = TransportAddress.FromIPEndPoint((IPEndPoint)peer.LocalEndPoint!);

        TransportAddress relayed = await AllocateAsync(client);
        await RequestAsync(client, StunMethod.CreatePermission, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress));

        // The client reads nothing more; the peer sends 20 MB of Data towards it.
        byte[] payload = new byte[1000];
        for (int i = 0; i < 20_000; i++)
        {
            peer.SendTo(payload, relayed.ToIPEndPoint());
            if (i % 500 == 0)
            {
                await Task.Delay(1);
            }
        }
        for (int attempt = 0; attempt < 100 && engine.BytesDroppedToSlowClients == 0; attempt++)
        {
            await Task.Delay(100);
        }
        Assert.True(engine.BytesDroppedToSlowClients > 0, "the relay queued everything for a client that does not read");

        // Meanwhile another client is served as usual.
        using var other = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        other.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        AnonymousRelay.Exchange(other, engine.LocalEndPoints[0], StunMethod.Binding, (ref StunMessageWriter _) => { });
    }

    private static async Task<TransportAddress> AllocateAsync(Socket client)
    {
        byte[] response = await RequestAsync(client, StunMethod.Allocate, AnonymousRelay.AddRequestedTransportUdp);
        StunMessageReader.TryParse(response, out StunMessageReader reader);
        Assert.True(reader.TryGetXorAddress(StunAttributeType.XorRelayedAddress, out TransportAddress relayed));
        return relayed;
    }

    private static async Task<byte[]> RequestAsync(Socket client, StunMethod method, AnonymousRelay.Attributes attributes)
    {
        byte[] request = AnonymousRelay.Build(method, attributes);
        await client.SendAsync(request, SocketFlags.None);
        byte[] header = new byte[20];
        await ReadExactlyAsync(client, header);
        int length = (header[2] << 8) | header[3];
        byte[] message = new byte[20 + length];
        header.CopyTo(message, 0);
        await ReadExactlyAsync(client, message.AsMemory(20));
        AnonymousRelay.AssertSuccess(message);
        return message;
    }

    private static async Task ReadExactlyAsync(Socket socket, Memory<byte> buffer)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer[read..], SocketFlags.None);
            Assert.True(n > 0, "the relay closed the connection");
            read += n;
        }
    }
}
