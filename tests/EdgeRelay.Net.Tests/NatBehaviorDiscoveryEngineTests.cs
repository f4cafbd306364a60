using System.Net;
using System.Net.Sockets;
using EdgeRelay.Net.Tests.Support;
using EdgeRelay.Stun;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Net.Tests;

/// <summary>
/// NAT behaviour discovery (RFC 5780) on real sockets, with 127.0.0.1 and 127.0.0.2 as the two addresses
/// (both on Linux loopback without any setup): a plain socket checks where each answer really comes from.
/// </summary>
public sealed class NatBehaviorDiscoveryEngineTests : IAsyncLifetime
{
    private static readonly IPAddress PrimaryAddress = IPAddress.Loopback;
    private static readonly IPAddress AlternateAddress = IPAddress.Parse("127.0.0.2");

    private readonly RecordingLoggerFactory _log = new();
    private readonly List<Socket> _sockets = [];
    private RelayEngine? _engine;
    private int _primaryPort;
    private int _alternatePort;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _sockets.ForEach(s => s.Dispose());
        if (_engine is not null)
        {
            await _engine.DisposeAsync();
        }
        _log.Dispose();
    }

    /// <summary>A port free on both addresses (the test binds the four endpoints itself).</summary>
    private static int FreePortOnBothAddresses(int except)
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            using var first = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            first.Bind(new IPEndPoint(PrimaryAddress, 0));
            int port = ((IPEndPoint)first.LocalEndPoint!).Port;
            if (port == except)
            {
                continue;
            }
            using var second = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                second.Bind(new IPEndPoint(AlternateAddress, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }
        throw new InvalidOperationException("no port free on both loopback addresses");
    }

    private void Start(SocketBackend backend, bool twoAddresses = true)
    {
        _primaryPort = FreePortOnBothAddresses(0);
        _alternatePort = FreePortOnBothAddresses(_primaryPort);
        var primary = new IPEndPoint(PrimaryAddress, _primaryPort);
        var options = new TurnServerOptions
        {
            Realm = "edgerelay.test",
            RelayAddressIPv4 = IPAddress.Loopback,
            Users = new Dictionary<string, string> { ["alice"] = "correct horse battery staple" },
            PeerPolicy = new PeerAddressPolicy(allowLoopback: true),
            NatBehaviorDiscovery = twoAddresses
                ? new NatBehaviorDiscoveryOptions(primary, AlternateAddress, _alternatePort)
                : new NatBehaviorDiscoveryOptions(primary),
        };
        // Two loops: SO_REUSEPORT spreads clients over them, and each must answer from its own sockets.
        _engine = new RelayEngine(options, TimeProvider.System, _log, backend: backend, loops: 2);
        Assert.Equal(backend, _engine.Backend);
        _engine.Start([primary]);
    }

    private Socket Client()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _sockets.Add(socket);
        return socket;
    }

    private static byte[] Binding(ChangeRequestFlags? change = null, ushort responsePort = 0, int padding = -1, StunMethod method = StunMethod.Binding)
    {
        var buffer = new byte[2048];
        var writer = new StunMessageWriter(buffer, method, StunClass.Request, Guid.NewGuid().ToByteArray().AsSpan(0, 12));
        if (change is { } flags)
        {
            writer.AddChangeRequest(flags);
        }
        if (responsePort != 0)
        {
            writer.AddResponsePort(responsePort);
        }
        if (padding >= 0)
        {
            writer.AddPadding(padding);
        }
        if (method == StunMethod.Allocate)
        {
            writer.AddAttribute(StunAttributeType.RequestedTransport, [17, 0, 0, 0]);
        }
        return writer.Written.ToArray();
    }

    private sealed record Answer(IPEndPoint From, byte[] Bytes)
    {
        public StunMessageReader Reader
        {
            get
            {
                Assert.Equal(StunParseError.None, StunMessageReader.TryParse(Bytes, out StunMessageReader reader));
                return reader;
            }
        }

        public IPEndPoint? Address(StunAttributeType type) =>
            Reader.TryGetAttribute(type, out ReadOnlySpan<byte> value) && StunAddressCodec.TryDecode(value, out TransportAddress address)
                ? address.ToIPEndPoint()
                : null;

        public int ErrorCode => Reader.TryGetErrorCode(out int code, out _) ? code : 0;
    }

    private static Answer Exchange(Socket client, byte[] request, IPEndPoint to, Socket? receiver = null)
    {
        client.SendTo(request, to);
        var buffer = new byte[4096];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        int n = (receiver ?? client).ReceiveFrom(buffer, ref from);
        var answer = new Answer((IPEndPoint)from, buffer[..n]);
        Assert.Equal(request.AsSpan(8, 12).ToArray(), answer.Bytes.AsSpan(8, 12).ToArray());
        return answer;
    }

    public static TheoryData<SocketBackend> Backends => new() { SocketBackend.IoUring, SocketBackend.RecvMmsg, SocketBackend.Portable };

    [Theory]
    [MemberData(nameof(Backends))]
    public void Each_CHANGE_REQUEST_is_answered_from_the_endpoint_it_names_and_RESPONSE_ORIGIN_says_which(SocketBackend backend)
    {
        Start(backend);
        var primary = new IPEndPoint(PrimaryAddress, _primaryPort);
        var other = new IPEndPoint(AlternateAddress, _alternatePort);
        var cases = new (ChangeRequestFlags? Change, IPEndPoint From)[]
        {
            (null, primary),
            (ChangeRequestFlags.None, primary),
            (ChangeRequestFlags.ChangePort, new IPEndPoint(PrimaryAddress, _alternatePort)),
            (ChangeRequestFlags.ChangeIP, new IPEndPoint(AlternateAddress, _primaryPort)),
            (ChangeRequestFlags.ChangeIP | ChangeRequestFlags.ChangePort, other),
        };
        // Several clients, so that both loops (SO_REUSEPORT picks one by the client's address) answer.
        for (int c = 0; c < 4; c++)
        {
            Socket client = Client();
            foreach ((ChangeRequestFlags? change, IPEndPoint from) in cases)
            {
                Answer answer = Exchange(client, Binding(change), primary);
                Assert.Equal(StunClass.SuccessResponse, answer.Reader.Class);
                Assert.Equal(from, answer.From);
                Assert.Equal(from, answer.Address(StunAttributeType.ResponseOrigin));
                Assert.Equal(other, answer.Address(StunAttributeType.OtherAddress));
                Assert.Equal(client.LocalEndPoint, answer.Address(StunAttributeType.MappedAddress));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void The_alternate_endpoints_answer_Binding_with_the_primary_as_their_OTHER_ADDRESS(SocketBackend backend)
    {
        Start(backend);
        Socket client = Client();
        var primary = new IPEndPoint(PrimaryAddress, _primaryPort);
        var both = new IPEndPoint(AlternateAddress, _alternatePort);

        Answer plain = Exchange(client, Binding(), both);
        Assert.Equal(both, plain.From);
        Assert.Equal(primary, plain.Address(StunAttributeType.OtherAddress));

        Answer changed = Exchange(client, Binding(ChangeRequestFlags.ChangeIP), both);
        Assert.Equal(new IPEndPoint(PrimaryAddress, _alternatePort), changed.From);
        Assert.Equal(changed.From, changed.Address(StunAttributeType.ResponseOrigin));

        Answer fromPortOnly = Exchange(client, Binding(ChangeRequestFlags.ChangePort), new IPEndPoint(AlternateAddress, _primaryPort));
        Assert.Equal(both, fromPortOnly.From);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void RESPONSE_PORT_sends_the_answer_to_another_port_of_the_client(SocketBackend backend)
    {
        Start(backend);
        Socket client = Client();
        Socket other = Client();
        ushort otherPort = (ushort)((IPEndPoint)other.LocalEndPoint!).Port;

        Answer answer = Exchange(client, Binding(ChangeRequestFlags.ChangeIP, responsePort: otherPort), new IPEndPoint(PrimaryAddress, _primaryPort), receiver: other);

        Assert.Equal(new IPEndPoint(AlternateAddress, _primaryPort), answer.From);
        Assert.Equal(client.LocalEndPoint, answer.Address(StunAttributeType.MappedAddress));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void PADDING_comes_back_as_large_as_the_request_from_the_changed_endpoint(SocketBackend backend)
    {
        Start(backend);
        Socket client = Client();
        byte[] request = Binding(ChangeRequestFlags.ChangeIP | ChangeRequestFlags.ChangePort, padding: 1500);

        Answer answer = Exchange(client, request, new IPEndPoint(PrimaryAddress, _primaryPort));

        Assert.Equal(new IPEndPoint(AlternateAddress, _alternatePort), answer.From);
        Assert.True(answer.Reader.HasAttribute(StunAttributeType.Padding));
        Assert.InRange(answer.Bytes.Length, request.Length - 4 - 20, request.Length);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void Allocate_on_an_alternate_endpoint_gets_400_from_there_and_relays_nothing(SocketBackend backend)
    {
        Start(backend);
        Socket client = Client();
        var alternate = new IPEndPoint(AlternateAddress, _primaryPort);

        Answer answer = Exchange(client, Binding(method: StunMethod.Allocate), alternate);

        Assert.Equal(alternate, answer.From);
        Assert.Equal(StunErrorCode.BadRequest, answer.ErrorCode);
        Assert.Equal(0, _engine!.Server.AllocationCount);
        Assert.Equal(3, _engine.NatDiscoveryEndPoints.Count);
        Assert.Single(_engine.LocalEndPoints);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public void With_one_address_CHANGE_REQUEST_gets_420_and_start_up_says_only_part_of_the_tests_are_possible(SocketBackend backend)
    {
        Start(backend, twoAddresses: false);
        Socket client = Client();
        var primary = new IPEndPoint(PrimaryAddress, _primaryPort);

        Answer plain = Exchange(client, Binding(), primary);
        Assert.Equal(primary, plain.Address(StunAttributeType.ResponseOrigin));
        Assert.Null(plain.Address(StunAttributeType.OtherAddress));

        Answer change = Exchange(client, Binding(ChangeRequestFlags.ChangePort), primary);
        Assert.Equal(primary, change.From);
        Assert.Equal(StunErrorCode.UnknownAttribute, change.ErrorCode);

        Assert.Empty(_engine!.NatDiscoveryEndPoints);
        Assert.Contains(_log.Lines, l => l.Contains("only part of the tests are possible", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Taking_the_primary_listener_out_stops_NAT_behaviour_discovery_and_closes_the_alternates(SocketBackend backend)
    {
        Start(backend);
        var alternate = new IPEndPoint(AlternateAddress, _alternatePort);
        var moved = new IPEndPoint(IPAddress.Loopback, 0);

        _engine!.Reconfigure(_engine.Server.Options, [ListenerOptions.Udp(moved)], _engine.StreamLimits);

        Assert.Empty(_engine.NatDiscoveryEndPoints);
        Assert.Contains(_log.Lines, l => l.Contains("NAT behaviour discovery (RFC 5780) stopped", StringComparison.Ordinal));
        // The alternate endpoint is free again once its loop closed it.
        for (int attempt = 0; ; attempt++)
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                probe.Bind(alternate);
                break;
            }
            catch (SocketException) when (attempt < 100)
            {
                await Task.Delay(50);
            }
        }
    }
}
