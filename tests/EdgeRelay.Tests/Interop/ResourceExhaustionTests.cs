using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using EdgeRelay.Load;
using EdgeRelay.Stun;
using EdgeRelay.Tests.Support;
using Xunit.Abstractions;

namespace EdgeRelay.Tests.Interop;

/// <summary>
/// Floods against the shipped binary, one per limit of the README's limits table: a user's allocation flood,
/// permission and channel floods on one allocation, a Refresh storm, oversized datagrams, and thousands of idle
/// TCP connections. Each asserts that its limit holds, that its counter on /metrics moved, and that afterwards
/// alice, a well-behaved client (coturn's turnutils_uclient), relays every packet. Mallory is the flooder.
/// </summary>
public sealed class ResourceExhaustionTests(ITestOutputHelper output) : IDisposable
{
    private const string Mallory = "mallory";
    private const string MalloryPassword = "mallory's own password";
    private const int MaxAllocationsPerUser = 10;
    private const int MaxPermissions = 8;
    private const int MaxChannels = 8;
    private const int RequestsPerSecond = 20;
    private const int RequestBurst = 10 * RequestsPerSecond;
    private const int MaxConnections = 500;
    private const int MaxConnectionsPerAddress = 32;

    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-exhaustion-").FullName;

    private RelayProcess Start(string? more = null, IReadOnlyList<string>? transports = null)
    {
        int port = Ports.FreeUdpPort();
        int statusPort = Ports.FreeUdpPort();
        // A long idle timeout: the idle flood must still be there when alice comes, however slowly it was opened.
        string config = RelayConfigFile.Write(_directory, port, $$"""
            "status": { "endpoint": "127.0.0.1:{{statusPort}}" },
              "limits": { "maxAllocationsPerUser": {{MaxAllocationsPerUser}}, "maxPermissionsPerAllocation": {{MaxPermissions}},
                "maxChannelsPerAllocation": {{MaxChannels}}, "requestsPerSecondPerAllocation": {{RequestsPerSecond}},
                "maxConnections": {{MaxConnections}}, "maxConnectionsPerAddress": {{MaxConnectionsPerAddress}},
                "connectionIdleSeconds": 600 }{{(more is null ? "" : ",\n  " + more)}}
            """, moreUsers: $"\"{Mallory}\": \"{MalloryPassword}\"", transports: transports);
        return RelayProcess.Start(config, port, statusPort);
    }

    private static TurnClient MalloryAllocates(RelayProcess relay)
    {
        var client = new TurnClient(new IPEndPoint(IPAddress.Loopback, relay.Port), Mallory, MalloryPassword);
        client.Allocate();
        return client;
    }

    /// <summary>Alice's call: two allocations, 50 packets each to turnutils_peer and back, over UDP or TCP; every one must arrive.</summary>
    private static void AliceRelaysEverything(RelayProcess relay, bool tcp = false)
    {
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            string[] transport = tcp ? ["-t"] : [];
            (int exit, string text) = Coturn.UClient([.. transport, "-u", RunningRelay.User, "-w", RunningRelay.Password, "-p", relay.PortText,
                "-e", "127.0.0.1", "-r", peerPort.ToString(CultureInfo.InvariantCulture), "-n", "50", "-m", "2", "-z", "5", "127.0.0.1"]);
            Coturn.AssertRelayedEverything(exit, text, 100);
        }
    }

    private static TransportAddress Address(string ip, int port) => TransportAddress.FromIPAddress(IPAddress.Parse(ip), port);

    [Fact]
    public void An_allocation_flood_by_one_user_stops_at_its_quota_and_others_go_on_allocating()
    {
        using RelayProcess relay = Start();
        var flood = new List<TurnClient>();
        int allocated = 0;
        var refusals = new List<string>();
        try
        {
            for (int i = 0; i < 30; i++)
            {
                var client = new TurnClient(new IPEndPoint(IPAddress.Loopback, relay.Port), Mallory, MalloryPassword);
                flood.Add(client);
                try
                {
                    client.Allocate();
                    allocated++;
                }
                catch (InvalidOperationException e)
                {
                    refusals.Add(e.Message);
                }
            }

            Assert.Equal(MaxAllocationsPerUser, allocated);
            Assert.All(refusals, r => Assert.Contains("486", r, StringComparison.Ordinal));
            Assert.Equal(30 - MaxAllocationsPerUser, relay.Metric("edgerelay_quota_rejections_total{quota=\"allocations_per_user\"}"));
            AliceRelaysEverything(relay);
        }
        finally
        {
            flood.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public void Permission_and_channel_floods_on_one_allocation_stop_at_their_limits_and_the_allocation_still_relays()
    {
        using RelayProcess relay = Start();
        using TurnClient flooder = MalloryAllocates(relay);

        var permissionCodes = new List<int>();
        for (int i = 1; i <= 20; i++)
        {
            TransportAddress peer = Address($"127.0.1.{i}", 5000);
            permissionCodes.Add(TurnClient.ErrorCodeOf(flooder.Exchange(StunMethod.CreatePermission,
                (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peer), authenticate: true, acceptErrors: true)));
        }
        Assert.Equal(MaxPermissions, permissionCodes.Count(c => c == 0));
        Assert.All(permissionCodes.Where(c => c != 0), c => Assert.Equal(StunErrorCode.InsufficientCapacity, c));
        Assert.Equal(MaxPermissions, relay.Metric("edgerelay_permissions_created_total"));

        // Channels to the permitted addresses, on other ports: only the channel quota stops them.
        var channelCodes = new List<int>();
        for (int i = 0; i < 20; i++)
        {
            TransportAddress peer = Address($"127.0.1.{1 + (i % MaxPermissions)}", 6000 + i);
            ushort channel = (ushort)(0x4000 + i);
            channelCodes.Add(TurnClient.ErrorCodeOf(flooder.Exchange(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                Span<byte> number = w.AddAttribute(StunAttributeType.ChannelNumber, 4);
                number.Clear();
                number[0] = (byte)(channel >> 8);
                number[1] = (byte)channel;
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
            }, authenticate: true, acceptErrors: true)));
        }
        Assert.Equal(MaxChannels, channelCodes.Count(c => c == 0));
        Assert.All(channelCodes.Where(c => c != 0), c => Assert.Equal(StunErrorCode.InsufficientCapacity, c));
        Assert.Equal(MaxChannels, relay.Metric("edgerelay_channels_bound_total"));
        Assert.Equal(20 - MaxPermissions, relay.Metric("edgerelay_quota_rejections_total{quota=\"permissions_per_allocation\"}"));
        Assert.Equal(20 - MaxChannels, relay.Metric("edgerelay_quota_rejections_total{quota=\"channels_per_allocation\"}"));

        // A channel that is bound relays.
        using var peerSocket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        peerSocket.Bind(new IPEndPoint(IPAddress.Parse("127.0.1.1"), 6000));
        peerSocket.ReceiveTimeout = 5000;
        flooder.Socket.Send([0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4]);
        byte[] received = new byte[64];
        Assert.Equal(4, peerSocket.Receive(received));
        AliceRelaysEverything(relay);
    }

    [Fact]
    public void A_Refresh_storm_is_answered_up_to_its_bucket_and_the_storming_allocation_and_others_go_on()
    {
        using RelayProcess relay = Start();
        using TurnClient storming = MalloryAllocates(relay);

        // A thousand Refresh requests, a hundred at a time (so that the kernel's socket buffers drop few of them).
        const int Storm = 1000;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < Storm; i++)
        {
            storming.Socket.Send(storming.Build(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.Lifetime, 600)));
            if (i % 100 == 99)
            {
                Thread.Sleep(5);
            }
        }
        int answered = 0;
        byte[] answer = new byte[2048];
        storming.Socket.ReceiveTimeout = 1000;
        try
        {
            while (true)
            {
                int length = storming.Socket.Receive(answer);
                if (TurnClient.ErrorCodeOf(answer.AsSpan(0, length)) == 0)
                {
                    answered++;
                }
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
        }
        double seconds = clock.Elapsed.TotalSeconds;
        long limited = relay.Metric("edgerelay_rate_limited_total{limit=\"requests_per_allocation\"}");
        output.WriteLine($"{Storm} Refresh requests: {answered} answered, {limited} not (limit), in {seconds:F2} s");

        // The bucket: a burst, then so many a second (the elapsed time bounds the refill from above).
        Assert.InRange(answered, 1, RequestBurst + (int)(RequestsPerSecond * seconds) + 1);
        Assert.True(limited >= Storm / 2, $"only {limited} of {Storm} were limited");
        Assert.True(limited + answered <= Storm);

        // A second later the storming client is answered again, and its allocation relays; nobody else noticed.
        Thread.Sleep(1000);
        Assert.Equal(0, TurnClient.ErrorCodeOf(storming.Exchange(StunMethod.Refresh,
            (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.Lifetime, 600), authenticate: true)));
        AliceRelaysEverything(relay);
    }

    [Theory]
    [InlineData("auto")]
    [InlineData("recvmmsg")]
    [InlineData("portable")]
    public void Datagrams_over_4096_bytes_from_clients_and_peers_are_dropped_and_counted(string backend)
    {
        using RelayProcess relay = Start($$"""
            "engine": { "backend": "{{backend}}" }
            """);
        using TurnClient client = MalloryAllocates(relay);
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var peerAddress = TransportAddress.FromIPEndPoint((IPEndPoint)peer.LocalEndPoint!);
        client.Exchange(StunMethod.CreatePermission, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress), authenticate: true);

        // From the client: 5000 and 60,000 bytes (IP fragments off loopback; whole here) to the listener, each
        // followed by a request whose answer says the relay has read it (nothing lost to a full socket buffer).
        for (int i = 0; i < 5; i++)
        {
            foreach (int size in new[] { 5000, 60000 })
            {
                client.Socket.Send(new byte[size]);
                client.Exchange(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.Lifetime, 600), authenticate: true);
            }
        }
        // From the peer to the relayed address: 5000 bytes, then 1000 that must arrive as a Data indication.
        var relayed = new IPEndPoint(IPAddress.Loopback, client.Relayed.Port);
        for (int i = 0; i < 5; i++)
        {
            peer.SendTo(new byte[5000], relayed);
        }
        peer.SendTo(new byte[1000], relayed);
        byte[] data = new byte[2048];
        int length = client.Socket.Receive(data);
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(data.AsSpan(0, length), out StunMessageReader indication));
        Assert.Equal(StunMethod.Data, indication.Method);
        Assert.True(indication.TryGetAttribute(StunAttributeType.Data, out ReadOnlySpan<byte> payload));
        Assert.Equal(1000, payload.Length);
        Assert.Equal(15, relay.Metric("edgerelay_dropped_packets_total{reason=\"oversized\"}"));
        AliceRelaysEverything(relay);
    }

    [Fact]
    public async Task Thousands_of_idle_tcp_connections_neither_exhaust_the_box_nor_lock_out_a_client_that_comes_to_relay()
    {
        using RelayProcess relay = Start(transports: ["udp", "tcp"]);
        var flood = new List<Socket>();
        try
        {
            // 2,010 connections that never send a byte, 30 from each of 67 addresses (under the per-address limit).
            for (int a = 0; a < 67; a++)
            {
                for (int i = 0; i < 30; i++)
                {
                    flood.Add(await ConnectAsync($"127.0.{2 + (a / 200)}.{1 + (a % 200)}", relay.Port));
                }
            }
            // And 40 from one address: beyond the per-address limit they are closed at once.
            for (int i = 0; i < 40; i++)
            {
                flood.Add(await ConnectAsync("127.0.9.1", relay.Port));
            }

            Assert.True(Eventually.True(() => relay.Metric("edgerelay_refused_connections_total") == 40 - MaxConnectionsPerAddress, TimeSpan.FromSeconds(30)),
                $"refused: {relay.Metric("edgerelay_refused_connections_total")}");
            long evicted = relay.Metric("edgerelay_evicted_connections_total");
            long open = relay.Metric("edgerelay_stream_connections{transport=\"tcp\"}");
            output.WriteLine($"{flood.Count} connections opened: {evicted} evicted, {open} open");
            // Every connection past the limit took the place of an older idle one (the count may pass the limit by
            // the few being closed at the moment it is read).
            Assert.True(evicted >= 2010 + MaxConnectionsPerAddress - MaxConnections, $"evicted {evicted}");
            Assert.True(Eventually.True(() => relay.Metric("edgerelay_stream_connections{transport=\"tcp\"}") <= MaxConnections, TimeSpan.FromSeconds(30)));

            AliceRelaysEverything(relay, tcp: true);
            Assert.True(relay.Metric("edgerelay_evicted_connections_total") > evicted, "alice's connections made no room");
        }
        finally
        {
            flood.ForEach(s => s.Dispose());
        }
    }

    /// <summary>
    /// A shell or a systemd service starts the relay with a soft limit of 1024 open files, fewer than the default
    /// limits need (a socket per allocation, per connection); Native AOT does not raise it as CoreCLR does, so the
    /// engine does, up to the hard limit.
    /// </summary>
    [Fact]
    public void The_relay_raises_its_open_file_limit_from_the_shells_1024_to_the_hard_limit()
    {
        int port = Ports.FreeUdpPort();
        int statusPort = Ports.FreeUdpPort();
        string config = RelayConfigFile.Write(_directory, port, $$"""
            "status": { "endpoint": "127.0.0.1:{{statusPort}}" }
            """);
        using ExternalProcess relay = ExternalProcess.Start("bash", "-c", $"ulimit -Sn 1024 && exec '{AotBinary.Path}' run --config '{config}'");
        Assert.True(relay.WaitForOutput("Status page on", TimeSpan.FromSeconds(60)), relay.Output);
        string line = File.ReadAllLines($"/proc/{relay.Id}/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        string[] fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        output.WriteLine(line);
        Assert.Equal(fields[1], fields[0]);
    }

    private static async Task<Socket> ConnectAsync(string source, int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(source), 0));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token);
        return socket;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
