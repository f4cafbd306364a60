using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeRelay.Stun;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Net.Tests;

/// <summary>The engine on real loopback sockets, driven by a minimal TURN client written with the codec.</summary>
public sealed class RelayEngineTests : IAsyncLifetime
{
    private const string User = "alice";
    private const string Password = "correct horse battery staple";
    private const string Realm = "edgerelay.test";

    private RelayEngine _engine = null!;
    private IPEndPoint _server = null!;
    private readonly Socket _client = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly Socket _peer = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly byte[] _key = LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, User, Realm, Password);
    private byte[] _nonce = [];

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Every engine must behave the same: io_uring, recvmmsg (Linux) and the portable fallback.</summary>
    private void Start(SocketBackend backend)
    {
        int first = 45000 + Environment.ProcessId % 20 * 200 + (int)backend * 50;
        var options = new TurnServerOptions
        {
            Realm = Realm,
            RelayAddressIPv4 = IPAddress.Loopback,
            AdvertisedRelayAddressIPv4 = IPAddress.Loopback,
            RelayPortMin = first,
            RelayPortMax = first + 49,
            Users = new Dictionary<string, string> { [User] = Password },
            PeerPolicy = new PeerAddressPolicy(allowLoopback: true),
        };
        _engine = new RelayEngine(options, TimeProvider.System, backend: backend);
        Assert.Equal(backend, _engine.Backend);
        _engine.Start([new IPEndPoint(IPAddress.Loopback, 0)]);
        _server = _engine.LocalEndPoints[0];
        _client.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _client.ReceiveTimeout = 5000;
        _peer.ReceiveTimeout = 5000;
    }

    [Theory]
    [InlineData(SocketBackend.IoUring)]
    [InlineData(SocketBackend.RecvMmsg)]
    [InlineData(SocketBackend.Portable)]
    public void Data_flows_both_ways_as_Send_and_Data_indications_and_the_port_is_freed_on_delete(SocketBackend backend)
    {
        Start(backend);
        TransportAddress relayed = Allocate();
        var peer = TransportAddress.FromIPEndPoint((IPEndPoint)_peer.LocalEndPoint!);

        AssertSuccess(Request(StunMethod.CreatePermission, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peer)));

        // Client → peer: a Send indication arrives at the peer as a plain datagram from the relayed address.
        byte[] hello = Encoding.ASCII.GetBytes("hello, peer");
        Send(Indication(StunMethod.Send, (ref StunMessageWriter w) =>
        {
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
            w.AddAttribute(StunAttributeType.Data, hello);
        }));
        var buffer = new byte[2048];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        int n = _peer.ReceiveFrom(buffer, ref from);
        Assert.Equal(hello, buffer[..n]);
        Assert.Equal(relayed.ToIPEndPoint(), from);

        // Peer → client: a Data indication with XOR-PEER-ADDRESS and DATA.
        byte[] reply = Encoding.ASCII.GetBytes("hello, client");
        _peer.SendTo(reply, from);
        n = _client.Receive(buffer);
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(buffer.AsSpan(0, n), out StunMessageReader data));
        Assert.Equal(StunMethod.Data, data.Method);
        Assert.Equal(StunClass.Indication, data.Class);
        Assert.True(data.TryGetXorAddress(StunAttributeType.XorPeerAddress, out TransportAddress dataPeer));
        Assert.Equal(peer, dataPeer);
        Assert.True(data.TryGetAttribute(StunAttributeType.Data, out ReadOnlySpan<byte> payload));
        Assert.Equal(reply, payload.ToArray());

        // Refresh with LIFETIME 0 deletes the allocation and closes its socket: the port can be bound again
        // (the batched loops close it on their own thread right after the answer, so allow them a moment).
        AssertSuccess(Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.Lifetime, 0)));
        using var rebind = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                rebind.Bind(relayed.ToIPEndPoint());
                break;
            }
            catch (SocketException) when (attempt < 100)
            {
                Thread.Sleep(20);
            }
        }
    }

    [Theory]
    [InlineData(SocketBackend.IoUring)]
    [InlineData(SocketBackend.RecvMmsg)]
    [InlineData(SocketBackend.Portable)]
    public void ChannelData_flows_both_ways(SocketBackend backend)
    {
        Start(backend);
        TransportAddress relayed = Allocate();
        var peer = TransportAddress.FromIPEndPoint((IPEndPoint)_peer.LocalEndPoint!);
        const ushort channel = 0x4001;
        AssertSuccess(Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            Span<byte> number = w.AddAttribute(StunAttributeType.ChannelNumber, 4);
            number.Clear();
            number[0] = 0x40;
            number[1] = 0x01;
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
        }));

        byte[] frame = new byte[4 + 5];
        ChannelData.WriteHeader(frame, channel, 5);
        "ping!"u8.CopyTo(frame.AsSpan(4));
        _client.SendTo(frame, _server);
        var buffer = new byte[2048];
        EndPoint from = new IPEndPoint(IPAddress.Any, 0);
        int n = _peer.ReceiveFrom(buffer, ref from);
        Assert.Equal("ping!", Encoding.ASCII.GetString(buffer, 0, n));
        Assert.Equal(relayed.ToIPEndPoint(), from);

        _peer.SendTo("pong"u8.ToArray(), from);
        n = _client.Receive(buffer);
        Assert.True(ChannelData.TryRead(buffer.AsSpan(0, n), out ushort got, out int length));
        Assert.Equal(channel, got);
        Assert.Equal("pong", Encoding.ASCII.GetString(buffer, 4, length));
    }

    private TransportAddress Allocate()
    {
        // The first try is challenged: 401 with REALM and NONCE.
        byte[] challenge = Exchange(Message(StunMethod.Allocate, StunClass.Request, (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.RequestedTransport, 17u << 24)));
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(challenge, out StunMessageReader error));
        Assert.True(error.TryGetErrorCode(out int code, out _));
        Assert.Equal(401, code);
        Assert.True(error.TryGetAttribute(StunAttributeType.Nonce, out ReadOnlySpan<byte> nonce));
        _nonce = nonce.ToArray();

        byte[] success = Request(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.RequestedTransport, 17u << 24));
        AssertSuccess(success);
        StunMessageReader.TryParse(success, out StunMessageReader response);
        Assert.True(response.TryGetXorAddress(StunAttributeType.XorRelayedAddress, out TransportAddress relayed));
        return relayed;
    }

    private delegate void Attributes(ref StunMessageWriter writer);

    private byte[] Request(StunMethod method, Attributes attributes) => Exchange(Message(method, StunClass.Request, (ref StunMessageWriter w) =>
    {
        attributes(ref w);
        w.AddString(StunAttributeType.Username, User);
        w.AddString(StunAttributeType.Realm, Realm);
        w.AddAttribute(StunAttributeType.Nonce, _nonce);
        w.AddMessageIntegrity(_key);
    }));

    private static byte[] Indication(StunMethod method, Attributes attributes) => Message(method, StunClass.Indication, attributes);

    private static byte[] Message(StunMethod method, StunClass @class, Attributes attributes)
    {
        var buffer = new byte[1024];
        Span<byte> transactionId = stackalloc byte[12];
        TransactionId.NewRandom().WriteTo(transactionId);
        var writer = new StunMessageWriter(buffer, method, @class, transactionId);
        attributes(ref writer);
        return buffer[..writer.Length];
    }

    private void Send(byte[] message) => _client.SendTo(message, _server);

    private byte[] Exchange(byte[] request)
    {
        Send(request);
        var buffer = new byte[2048];
        int n = _client.Receive(buffer);
        return buffer[..n];
    }

    private static void AssertSuccess(byte[] response)
    {
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(response, out StunMessageReader message));
        Assert.True(message.Class == StunClass.SuccessResponse,
            message.TryGetErrorCode(out int code, out ReadOnlySpan<byte> reason) ? $"{code} {Encoding.UTF8.GetString(reason)}" : "not a success");
    }

    public async Task DisposeAsync()
    {
        if (_engine is not null)
        {
            await _engine.DisposeAsync();
        }
        _client.Dispose();
        _peer.Dispose();
    }
}
