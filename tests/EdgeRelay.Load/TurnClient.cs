using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeRelay.Stun;

namespace EdgeRelay.Load;

/// <summary>
/// A minimal TURN client over UDP (or TCP) for load: Allocate with long-term credentials (RFC 8489 §9.2, MD5 key),
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

    public TurnClient(IPEndPoint server, string user, string password, bool tcp = false)
    {
        _server = server;
        _user = user;
        _password = password;
        Tcp = tcp;
        Socket = tcp
            ? new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 5000, NoDelay = true }
            : new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp) { ReceiveTimeout = 5000 };
        Socket.Bind(new IPEndPoint(server.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback, 0));
        Socket.Connect(server);
    }

    public Socket Socket { get; }

    /// <summary>Over TCP: STUN messages and ChannelData (padded to 4 bytes, RFC 8656 §12.5) framed on one stream.</summary>
    public bool Tcp { get; }
    public TransportAddress Relayed { get; private set; }

    public delegate void Attributes(ref StunMessageWriter writer);

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

    /// <summary>Refresh with LIFETIME 0 (RFC 8656 §7.3); false when the server did not confirm it.</summary>
    public bool Release()
    {
        try
        {
            Exchange(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.Lifetime, 0), authenticate: true);
            return true;
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException)
        {
            // Best effort: the allocation expires by itself.
            return false;
        }
    }

    /// <summary>A request with a new transaction id, with the credentials of the last Allocate when <paramref name="authenticate"/>.</summary>
    public byte[] Build(StunMethod method, Attributes attributes, bool authenticate = true)
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
        return buffer[..writer.Length];
    }

    /// <summary>The error code of an answer, 0 for a success.</summary>
    public static int ErrorCodeOf(ReadOnlySpan<byte> answer) =>
        StunMessageReader.TryParse(answer, out StunMessageReader response) == StunParseError.None && response.TryGetErrorCode(out int code, out _) ? code : 0;

    /// <summary>
    /// Sends a request (retransmitting over UDP) and returns its answer. Unless <paramref name="acceptErrors"/>,
    /// an error answer to an authenticated request throws.
    /// </summary>
    public byte[] Exchange(StunMethod method, Attributes attributes, bool authenticate, bool acceptErrors = false)
    {
        byte[] request = Build(method, attributes, authenticate);
        ReadOnlySpan<byte> transactionId = request.AsSpan(8, 12);
        var answer = new byte[2048];
        // RFC 8489 §6.2.2: over a reliable transport the request is sent once.
        for (int attempt = 0; attempt < (Tcp ? 1 : 5); attempt++)
        {
            Socket.Send(request);
            try
            {
                while (true)
                {
                    int n = Tcp ? ReceiveFrame(answer) : Socket.Receive(answer);
                    if (StunMessageReader.TryParse(answer.AsSpan(0, n), out StunMessageReader response) == StunParseError.None
                        && response.TransactionIdBytes.SequenceEqual(transactionId))
                    {
                        if (authenticate && !acceptErrors && response.Class != StunClass.SuccessResponse)
                        {
                            response.TryGetErrorCode(out int code, out ReadOnlySpan<byte> reason);
                            if (method == StunMethod.Allocate && code == StunErrorCode.AllocationMismatch)
                            {
                                // RFC 8656 §7.2 checks credentials before the five-tuple: a server that follows
                                // it says 437 only to the authenticated Allocate.
                                throw new AllocationMismatchException();
                            }
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

    /// <summary>The length of a whole frame on a stream, from its first 4 bytes: a STUN message or padded ChannelData.</summary>
    public static int FrameLength(ReadOnlySpan<byte> header) => (header[0] & 0xC0) == 0
        ? 20 + BinaryPrimitives.ReadUInt16BigEndian(header[2..])
        : 4 + ((BinaryPrimitives.ReadUInt16BigEndian(header[2..]) + 3) & ~3);

    /// <summary>Over TCP: reads one whole frame into <paramref name="buffer"/> and returns its length.</summary>
    private int ReceiveFrame(byte[] buffer)
    {
        ReceiveExactly(buffer.AsSpan(0, 4));
        int length = FrameLength(buffer);
        ReceiveExactly(buffer.AsSpan(4, length - 4));
        return length;
    }

    private void ReceiveExactly(Span<byte> span)
    {
        while (span.Length > 0)
        {
            int n = Socket.Receive(span);
            if (n == 0)
            {
                throw new InvalidOperationException($"{_server} closed the connection");
            }
            span = span[n..];
        }
    }

    /// <summary>Over TCP: reads one whole frame, asynchronously; 0 when the server closed the connection.</summary>
    public async ValueTask<int> ReceiveFrameAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (!await ReceiveExactlyAsync(buffer[..4], cancellationToken).ConfigureAwait(false))
        {
            return 0;
        }
        int length = FrameLength(buffer.Span);
        return await ReceiveExactlyAsync(buffer[4..length], cancellationToken).ConfigureAwait(false) ? length : 0;
    }

    private async ValueTask<bool> ReceiveExactlyAsync(Memory<byte> memory, CancellationToken cancellationToken)
    {
        while (memory.Length > 0)
        {
            int n = await Socket.ReceiveAsync(memory, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return false;
            }
            memory = memory[n..];
        }
        return true;
    }

    public void Dispose() => Socket.Dispose();
}

internal sealed class AllocationMismatchException() : InvalidOperationException("437 Allocation Mismatch for a fresh socket");
