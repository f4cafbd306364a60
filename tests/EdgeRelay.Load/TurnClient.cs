using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeRelay.Stun;

namespace EdgeRelay.Load;

/// <summary>
/// A minimal TURN client over UDP for load: Allocate with long-term credentials (RFC 8489 §9.2, MD5 key),
/// ChannelBind, Refresh. Written with EdgeRelay's codec, so it tests nothing of the server's own code paths.
/// </summary>
internal sealed class TurnClient : IDisposable
{
    public const ushort Channel = 0x4000;

    private readonly IPEndPoint _server;
    private readonly string _user;
    private readonly string _password;
    private byte[] _key = [];
    private byte[] _realm = [];
    private byte[] _nonce = [];

    public TurnClient(IPEndPoint server, string user, string password)
    {
        _server = server;
        _user = user;
        _password = password;
        Socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        Socket.Bind(new IPEndPoint(server.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback, 0));
        Socket.Connect(server);
    }

    public Socket Socket { get; }
    public TransportAddress Relayed { get; private set; }

    private delegate void Attributes(ref StunMessageWriter writer);

    public void Allocate()
    {
        byte[] first = Exchange(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.RequestedTransport, 17u << 24), authenticate: false);
        StunMessageReader.TryParse(first, out StunMessageReader challenge);
        if (challenge.TryGetErrorCode(out int mismatch, out _) && mismatch == StunErrorCode.AllocationMismatch)
        {
            // The server still remembers this five-tuple from an earlier run (a reused port): try another.
            throw new AllocationMismatchException();
        }
        if (!challenge.TryGetErrorCode(out int code, out ReadOnlySpan<byte> reason) || code != StunErrorCode.Unauthenticated
            || !challenge.TryGetAttribute(StunAttributeType.Realm, out ReadOnlySpan<byte> realm)
            || !challenge.TryGetAttribute(StunAttributeType.Nonce, out ReadOnlySpan<byte> nonce))
        {
            throw new InvalidOperationException($"the server answered the first Allocate with {challenge.Class} {code} {Encoding.UTF8.GetString(reason)}, not 401");
        }
        _realm = realm.ToArray();
        _nonce = nonce.ToArray();
        _key = LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, _user, Encoding.UTF8.GetString(_realm), _password);
        byte[] success = Exchange(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.RequestedTransport, 17u << 24), authenticate: true);
        StunMessageReader.TryParse(success, out StunMessageReader response);
        Relayed = response.TryGetXorAddress(StunAttributeType.XorRelayedAddress, out TransportAddress relayed)
            ? relayed
            : throw new InvalidOperationException("Allocate succeeded without XOR-RELAYED-ADDRESS");
    }

    public void BindChannel(TransportAddress peer) => Exchange(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
    {
        Span<byte> number = w.AddAttribute(StunAttributeType.ChannelNumber, 4);
        number.Clear();
        number[0] = Channel >> 8;
        number[1] = Channel & 0xFF;
        w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
    }, authenticate: true);

    public void Release()
    {
        try
        {
            Exchange(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.Lifetime, 0), authenticate: true);
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException)
        {
            // Best effort: the allocation expires by itself.
        }
    }

    private byte[] Exchange(StunMethod method, Attributes attributes, bool authenticate)
    {
        var buffer = new byte[1024];
        byte[] transactionId = new byte[12];
        Random.Shared.NextBytes(transactionId);
        var writer = new StunMessageWriter(buffer, method, StunClass.Request, transactionId);
        attributes(ref writer);
        if (authenticate)
        {
            writer.AddString(StunAttributeType.Username, _user);
            writer.AddAttribute(StunAttributeType.Realm, _realm);
            writer.AddAttribute(StunAttributeType.Nonce, _nonce);
            writer.AddMessageIntegrity(_key);
        }
        int length = writer.Length;
        var answer = new byte[2048];
        for (int attempt = 0; attempt < 5; attempt++)
        {
            Socket.Send(buffer.AsSpan(0, length));
            try
            {
                while (true)
                {
                    int n = Socket.Receive(answer);
                    if (StunMessageReader.TryParse(answer.AsSpan(0, n), out StunMessageReader response) == StunParseError.None
                        && response.TransactionIdBytes.SequenceEqual(transactionId))
                    {
                        if (authenticate && response.Class != StunClass.SuccessResponse)
                        {
                            response.TryGetErrorCode(out int code, out ReadOnlySpan<byte> reason);
                            throw new InvalidOperationException($"{method} failed: {code} {Encoding.UTF8.GetString(reason)}");
                        }
                        return answer[..n];
                    }
                }
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
            {
                // Retransmit, as RFC 8489 §6.2.1 would (with a simpler timer).
            }
        }
        throw new InvalidOperationException($"{method}: no answer from {_server}");
    }

    public void Dispose() => Socket.Dispose();
}

internal sealed class AllocationMismatchException() : InvalidOperationException("437 Allocation Mismatch for a fresh socket");
