using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using EdgeRelay.Net.Streams;
using EdgeRelay.Net.Tests.Support;
using EdgeRelay.Stun;
using EdgeRelay.Turn;

namespace EdgeRelay.Net.Tests;

/// <summary>
/// A new configuration applied to a running engine on real loopback sockets: listeners come and go,
/// options and limits change, and nothing that relays now is dropped.
/// </summary>
public sealed class RelayEngineReconfigureTests
{
    /// <summary>A second loopback address, so that two UDP listeners configured with port 0 are two listeners.</summary>
    private static readonly IPAddress SecondLoopback = IPAddress.Parse("127.0.0.2");

    private static readonly ListenerOptions OriginalUdp = ListenerOptions.Udp(new IPEndPoint(IPAddress.Loopback, 0));
    private static readonly ListenerOptions SecondUdp = ListenerOptions.Udp(new IPEndPoint(SecondLoopback, 0));
    private static readonly ListenerOptions Tcp = new(TransportProtocol.Tcp, new IPEndPoint(IPAddress.Loopback, 0));

    [Theory]
    [InlineData(SocketBackend.IoUring, 50000)]
    [InlineData(SocketBackend.RecvMmsg, 51000)]
    [InlineData(SocketBackend.Portable, 52000)]
    public async Task Listeners_added_while_running_serve_and_a_removed_udp_listener_goes_quiet_while_allocations_through_kept_ones_relay(
        SocketBackend backend, int basePort)
    {
        var log = new RecordingLoggerFactory();
        TurnServerOptions options = AnonymousRelay.Options(basePort, 20);
        await using var engine = new RelayEngine(options, TimeProvider.System, log, backend: backend, loops: 2);
        engine.Start([OriginalUdp]);
        IPEndPoint original = engine.LocalEndPoints[0];
        using Socket viaOriginal = UdpSocket();
        AllocateOverUdp(viaOriginal, original);

        engine.Reconfigure(options, [OriginalUdp, SecondUdp, Tcp], engine.StreamLimits);

        Assert.Equal(original, engine.LocalEndPoints[0]);
        IPEndPoint udp = engine.LocalEndPoints[1];
        Assert.Equal(SecondLoopback, udp.Address);
        IPEndPoint tcp = Assert.Single(engine.StreamEndPoints).EndPoint;
        Assert.Equal([OriginalUdp, SecondUdp, Tcp], engine.Listeners);

        // Through the added UDP listener: an allocation whose channel relays both ways.
        using Socket client = UdpSocket();
        using Socket peer = UdpSocket();
        var peerAddress = TransportAddress.FromIPEndPoint((IPEndPoint)peer.LocalEndPoint!);
        TransportAddress relayed = AllocateOverUdp(client, udp);
        AnonymousRelay.Exchange(client, udp, StunMethod.ChannelBind, AnonymousRelay.ChannelBind(0x4000, peerAddress));
        ChannelDataRoundTrip(client, udp, peer, 0x4000, relayed);

        // Through the added TCP listener: an allocation whose Send indication reaches the peer.
        using StreamClient overTcp = await StreamClient.ConnectAsync(tcp);
        TransportAddress tcpRelayed = await overTcp.AllocateAsync();
        await overTcp.RequestAsync(StunMethod.CreatePermission, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress));
        await overTcp.Socket.SendAsync(SendIndication(peerAddress, "over tcp"), SocketFlags.None);
        AssertPeerReceives(peer, "over tcp", tcpRelayed);
        Assert.Equal(2, engine.Server.AllocationCountOf(TransportProtocol.Udp));

        engine.Reconfigure(options, [SecondUdp, Tcp], engine.StreamLimits);

        // The original port closes (every loop's socket of it) and stops answering; the allocation made
        // through it ended with it, while the ones made through kept listeners go on relaying.
        Assert.Equal([udp], engine.LocalEndPoints);
        WaitUntilUdpPortIsFree(original);
        AssertNoAnswer(viaOriginal, original);
        Assert.Equal(1, engine.Server.AllocationCountOf(TransportProtocol.Udp));
        ChannelDataRoundTrip(client, udp, peer, 0x4000, relayed);
        await overTcp.Socket.SendAsync(SendIndication(peerAddress, "still over tcp"), SocketFlags.None);
        AssertPeerReceives(peer, "still over tcp", tcpRelayed);

        Assert.Contains($"Listener added: udp {udp}", log.Lines);
        Assert.Contains($"Listener added: tcp {tcp}", log.Lines);
        Assert.Contains($"Listener removed: udp {original}; 1 allocations made through it ended with it", log.Lines);
        Assert.Contains(log.Lines, line => line.StartsWith("Allocation ended (listener removed from the configuration)", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(SocketBackend.IoUring, 53000)]
    [InlineData(SocketBackend.RecvMmsg, 54000)]
    [InlineData(SocketBackend.Portable, 55000)]
    public async Task A_reconfiguration_whose_new_listener_cannot_bind_throws_naming_the_port_and_changes_nothing(SocketBackend backend, int basePort)
    {
        await using var engine = new RelayEngine(AnonymousRelay.Options(basePort, 20), TimeProvider.System, backend: backend, loops: 2);
        engine.Start([OriginalUdp]);
        IPEndPoint original = engine.LocalEndPoints[0];
        StreamLimits limits = engine.StreamLimits;
        TurnServerOptions options = engine.Server.Options;
        using var blocker = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        blocker.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        blocker.Listen();
        int taken = ((IPEndPoint)blocker.LocalEndPoint!).Port;

        // A UDP port free a moment ago, so that the test can see it closed again afterwards.
        IPEndPoint free;
        using (Socket probe = UdpSocket(SecondLoopback))
        {
            free = (IPEndPoint)probe.LocalEndPoint!;
        }

        // Anonymous access off, and a listener that cannot bind after one that can.
        var e = Assert.Throws<ListenerBindException>(() => engine.Reconfigure(
            AnonymousRelay.Options(basePort, 20, allowAnonymous: false),
            [OriginalUdp, ListenerOptions.Udp(free), new ListenerOptions(TransportProtocol.Tcp, new IPEndPoint(IPAddress.Loopback, taken))],
            new StreamLimits { MaxConnections = 1 }));

        Assert.Contains($"127.0.0.1:{taken}", e.Message, StringComparison.Ordinal);
        WaitUntilUdpPortIsFree(free);
        Assert.Equal([original], engine.LocalEndPoints);
        Assert.Empty(engine.StreamEndPoints);
        Assert.Equal([OriginalUdp], engine.Listeners);
        Assert.Same(limits, engine.StreamLimits);
        Assert.Same(options, engine.Server.Options);
        // The options in force still allow anonymous allocations, through the listener that was there.
        using Socket client = UdpSocket();
        AllocateOverUdp(client, original);
    }

    [Theory]
    [InlineData(SocketBackend.IoUring, 56000)]
    [InlineData(SocketBackend.RecvMmsg, 57000)]
    [InlineData(SocketBackend.Portable, 58000)]
    public async Task A_tcp_connection_accepted_by_a_removed_listener_keeps_relaying_until_it_closes(SocketBackend backend, int basePort)
    {
        TurnServerOptions options = AnonymousRelay.Options(basePort, 20);
        await using var engine = new RelayEngine(options, TimeProvider.System, backend: backend, loops: 2);
        engine.Start([OriginalUdp, Tcp]);
        IPEndPoint tcp = engine.StreamEndPoints[0].EndPoint;
        using Socket peer = UdpSocket();
        var peerAddress = TransportAddress.FromIPEndPoint((IPEndPoint)peer.LocalEndPoint!);
        StreamClient client = await StreamClient.ConnectAsync(tcp);
        TransportAddress relayed = await client.AllocateAsync();
        await client.RequestAsync(StunMethod.CreatePermission, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress));

        engine.Reconfigure(options, [OriginalUdp], engine.StreamLimits);

        Assert.Empty(engine.StreamEndPoints);
        await Assert.ThrowsAnyAsync<SocketException>(async () => (await StreamClient.ConnectAsync(tcp)).Dispose());
        Assert.Equal(1, engine.StreamConnectionCountOf(TransportProtocol.Tcp));

        // Both ways, and a Refresh: the connection and its allocation carry on.
        await client.Socket.SendAsync(SendIndication(peerAddress, "to the peer"), SocketFlags.None);
        AssertPeerReceives(peer, "to the peer", relayed);
        peer.SendTo("to the client"u8.ToArray(), relayed.ToIPEndPoint());
        byte[] data = await client.ReadMessageAsync() ?? throw new InvalidOperationException("connection closed");
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(data, out StunMessageReader indication));
        Assert.Equal(StunMethod.Data, indication.Method);
        Assert.True(indication.TryGetAttribute(StunAttributeType.Data, out ReadOnlySpan<byte> payload));
        Assert.Equal("to the client", Encoding.ASCII.GetString(payload));
        await client.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.Lifetime, 600));

        // Once the client closes, its allocation ends and the connection is no longer counted.
        client.Dispose();
        Assert.True(await Eventually.TrueAsync(() => engine.Server.AllocationCountOf(TransportProtocol.Tcp) == 0
                                          && engine.StreamConnectionCountOf(TransportProtocol.Tcp) == 0),
            "the allocation of the closed connection is still there");
    }

    [Fact]
    public async Task New_stream_limits_apply_to_connections_accepted_afterwards()
    {
        TurnServerOptions options = AnonymousRelay.Options(59000, 20);
        await using var engine = new RelayEngine(options, TimeProvider.System, backend: SocketBackend.Portable);
        engine.Start([Tcp]);
        IPEndPoint tcp = engine.StreamEndPoints[0].EndPoint;
        using StreamClient first = await StreamClient.ConnectAsync(tcp);
        await first.RequestAsync(StunMethod.Binding, (ref StunMessageWriter _) => { });

        var limits = new StreamLimits { MaxConnectionsPerAddress = 1 };
        engine.Reconfigure(options, [Tcp], limits);

        Assert.Same(limits, engine.StreamLimits);
        Assert.Equal(tcp, engine.StreamEndPoints[0].EndPoint);
        using StreamClient second = await StreamClient.ConnectAsync(tcp);
        await second.Socket.SendAsync(AnonymousRelay.Build(StunMethod.Binding, (ref StunMessageWriter _) => { }), SocketFlags.None);
        Assert.Null(await second.ReadMessageOrCloseAsync());
        Assert.Equal(1, engine.RefusedConnections);
        await first.RequestAsync(StunMethod.Binding, (ref StunMessageWriter _) => { });
    }

    [Fact]
    public async Task A_tls_listener_given_other_certificate_files_serves_the_new_certificate_and_one_that_cannot_load_changes_nothing()
    {
        string directory = Directory.CreateTempSubdirectory("edgerelay-reconfigure-").FullName;
        try
        {
            string Path(string name) => System.IO.Path.Combine(directory, name);
            TestCertificates.WritePem(Path("a.crt"), Path("a.key"), "first.edgerelay.test");
            TestCertificates.WritePem(Path("b.crt"), Path("b.key"), "second.edgerelay.test");
            var endpoint = new IPEndPoint(IPAddress.Loopback, 0);
            var first = new ListenerOptions(TransportProtocol.Tls, endpoint, Path("a.crt"), Path("a.key"));
            var second = first with { CertificatePath = Path("b.crt"), PrivateKeyPath = Path("b.key") };
            TurnServerOptions options = AnonymousRelay.Options(60000, 20);
            await using var engine = new RelayEngine(options, TimeProvider.System, backend: SocketBackend.Portable);
            engine.Start([first]);
            IPEndPoint tls = engine.StreamEndPoints[0].EndPoint;
            TlsCertificateSource source = Assert.Single(engine.Certificates);

            // The same files: the same source, which reloads them itself when they change.
            engine.Reconfigure(options, [first], engine.StreamLimits);
            Assert.Same(source, Assert.Single(engine.Certificates));

            engine.Reconfigure(options, [second], engine.StreamLimits);
            Assert.Equal(tls, engine.StreamEndPoints[0].EndPoint);
            Assert.Equal("CN=second.edgerelay.test", Assert.Single(engine.Certificates).Certificate.Subject);
            Assert.Equal("CN=second.edgerelay.test", await ServedSubject(tls));

            var broken = first with { CertificatePath = Path("missing.crt"), PrivateKeyPath = Path("missing.key") };
            var e = Assert.Throws<ListenerBindException>(() => engine.Reconfigure(options, [broken], engine.StreamLimits));
            Assert.Contains("tls 127.0.0.1:0", e.Message, StringComparison.Ordinal);
            Assert.Contains("missing.crt", e.Message, StringComparison.Ordinal);
            Assert.Equal([second], engine.Listeners);
            Assert.Equal("CN=second.edgerelay.test", await ServedSubject(tls));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData(SocketBackend.IoUring, 61000)]
    [InlineData(SocketBackend.RecvMmsg, 62000)]
    [InlineData(SocketBackend.Portable, 63000)]
    public async Task Reconfiguring_again_and_again_while_channel_data_flows_loses_no_round_trip(SocketBackend backend, int basePort)
    {
        TurnServerOptions options = AnonymousRelay.Options(basePort, 20);
        await using var engine = new RelayEngine(options, TimeProvider.System, backend: backend, loops: 2);
        engine.Start([OriginalUdp]);
        IPEndPoint server = engine.LocalEndPoints[0];
        using Socket client = UdpSocket();
        using Socket peer = UdpSocket();
        var peerAddress = TransportAddress.FromIPEndPoint((IPEndPoint)peer.LocalEndPoint!);
        TransportAddress relayed = AllocateOverUdp(client, server);
        AnonymousRelay.Exchange(client, server, StunMethod.ChannelBind, AnonymousRelay.ChannelBind(0x4000, peerAddress));

        using var done = new CancellationTokenSource();
        Task traffic = Task.Run(() =>
        {
            int roundTrips = 0;
            while (!done.IsCancellationRequested || roundTrips < 100)
            {
                ChannelDataRoundTrip(client, server, peer, 0x4000, relayed);
                roundTrips++;
            }
            return roundTrips;
        });
        for (int i = 0; i < 20; i++)
        {
            engine.Reconfigure(options, i % 2 == 0 ? [OriginalUdp, SecondUdp, Tcp] : [OriginalUdp], engine.StreamLimits);
        }
        done.Cancel();
        await traffic;

        Assert.Equal([server], engine.LocalEndPoints);
        Assert.Empty(engine.StreamEndPoints);
    }

    private static Socket UdpSocket(IPAddress? address = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        socket.Bind(new IPEndPoint(address ?? IPAddress.Loopback, 0));
        return socket;
    }

    private static TransportAddress AllocateOverUdp(Socket client, IPEndPoint server)
    {
        byte[] response = AnonymousRelay.Exchange(client, server, StunMethod.Allocate, AnonymousRelay.AddRequestedTransportUdp);
        StunMessageReader.TryParse(response, out StunMessageReader reader);
        Assert.True(reader.TryGetXorAddress(StunAttributeType.XorRelayedAddress, out TransportAddress relayed));
        return relayed;
    }

    private static void ChannelDataRoundTrip(Socket client, IPEndPoint server, Socket peer, ushort channel, TransportAddress relayed)
    {
        byte[] frame = new byte[4 + 5];
        ChannelData.WriteHeader(frame, channel, 5);
        "ping!"u8.CopyTo(frame.AsSpan(4));
        client.SendTo(frame, server);
        AssertPeerReceives(peer, "ping!", relayed);

        peer.SendTo("pong"u8.ToArray(), relayed.ToIPEndPoint());
        var buffer = new byte[2048];
        int n = client.Receive(buffer);
        Assert.True(ChannelData.TryRead(buffer.AsSpan(0, n), out ushort got, out int length));
        Assert.Equal(channel, got);
        Assert.Equal("pong", Encoding.ASCII.GetString(buffer, 4, length));
    }

    private static void AssertPeerReceives(Socket peer, string expected, TransportAddress relayed)
    {
        var buffer = new byte[2048];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        int n = peer.ReceiveFrom(buffer, ref from);
        Assert.Equal(expected, Encoding.ASCII.GetString(buffer, 0, n));
        Assert.Equal(relayed.ToIPEndPoint(), from);
    }

    private static byte[] SendIndication(TransportAddress peer, string data)
    {
        var buffer = new byte[512];
        var writer = new StunMessageWriter(buffer, StunMethod.Send, StunClass.Indication, Guid.NewGuid().ToByteArray().AsSpan(0, 12));
        writer.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
        writer.AddAttribute(StunAttributeType.Data, Encoding.ASCII.GetBytes(data));
        return buffer[..writer.Length];
    }

    /// <summary>A batched loop closes a socket that left it on its own thread, so the port frees a moment later.</summary>
    private static void WaitUntilUdpPortIsFree(IPEndPoint endpoint)
    {
        for (int attempt = 0; ; attempt++)
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                probe.Bind(endpoint);
                return;
            }
            catch (SocketException) when (attempt < 250)
            {
                Thread.Sleep(20);
            }
        }
    }

    private static void AssertNoAnswer(Socket client, IPEndPoint server)
    {
        client.SendTo(AnonymousRelay.Build(StunMethod.Binding, (ref StunMessageWriter _) => { }), server);
        client.ReceiveTimeout = 300;
        var buffer = new byte[2048];
        // A timeout, or the ICMP port unreachable that Linux reports on the next receive.
        Assert.Throws<SocketException>(() => client.Receive(buffer));
    }

    private static async Task<string> ServedSubject(IPEndPoint tls)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(tls);
        string? subject = null;
        await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false,
            (_, certificate, _, _) =>
            {
                subject = certificate?.Subject;
                return true;
            });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, timeout.Token);
        return subject ?? throw new InvalidOperationException("no certificate served");
    }
}
