using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using EdgeRelay.Stun;

namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>
/// A small TURN client (RFC 8656) on one connection, built on EdgeRelay's own codec: STUN transactions
/// with retransmission over UDP, the long-term credential mechanism of RFC 8489 §9.2 (401 challenge,
/// 438 stale nonce, SHA-256 when the server offers it), Allocate, CreatePermission, ChannelBind, Refresh
/// and ChannelData. Whatever comes back is parsed with TryParse: a garbled or unauthentic message is
/// counted and ignored, never thrown.
/// </summary>
internal sealed class ProbeClient : IAsyncDisposable
{
    /// <summary>RFC 8489 §6.2.1: the initial retransmission timeout, doubled after each try.</summary>
    internal static readonly TimeSpan InitialRto = TimeSpan.FromMilliseconds(500);

    /// <summary>RFC 8489 §9.2 security feature set cookie: the server offers PASSWORD-ALGORITHMS (§9.2.1).</summary>
    private static ReadOnlySpan<byte> NonceCookie => "obMatJos2"u8;

    /// <summary>The longest PASSWORD-ALGORITHMS list taken from a server.</summary>
    private const int MaxPasswordAlgorithmsLength = 256;

    private readonly ProbeConnection _connection;
    private readonly byte[] _username;
    private readonly byte[] _password;
    private readonly TimeSpan _timeout;
    private CancellationToken _cancellation;
    private CancellationTokenSource? _cleanupLimit;
    private byte[]? _realm;
    private byte[]? _nonce;
    private byte[]? _key;
    private byte[]? _passwordAlgorithms;
    private int _ignored;

    private ProbeClient(ProbeConnection connection, TurnProbeOptions options, CancellationToken cancellation)
    {
        _connection = connection;
        _username = Encoding.UTF8.GetBytes(options.Username);
        _password = Encoding.UTF8.GetBytes(options.Password);
        _timeout = options.Timeout;
        _cancellation = cancellation;
    }

    public static async Task<ProbeClient> ConnectAsync(System.Net.IPEndPoint server, TurnProbeOptions options, CancellationToken cancellation) =>
        new(await ProbeConnection.OpenAsync(server, options.Server, options, cancellation).ConfigureAwait(false), options, cancellation);

    public string TransportName => _connection.TransportName;

    /// <summary>Whether the key was negotiated as SHA-256 (RFC 8489 §9.2.4, PASSWORD-ALGORITHM) rather than the classic MD5.</summary>
    public bool UsesSha256 { get; private set; }

    public delegate void AttributeWriter(ref StunMessageWriter writer);

    /// <summary>
    /// Sends a request and returns its success response. An error response, no answer in time, or a
    /// credential the server refuses ends in a <see cref="ProbeFailureException"/> that names it.
    /// </summary>
    public async Task<StunAnswer> RequestAsync(StunMethod method, AttributeWriter? attributes)
    {
        bool challenged = false;
        int staleNonces = 0;
        while (true)
        {
            // Binding needs no credentials (RFC 8489 §10); every TURN request carries them once the
            // server has challenged us (RFC 8656 §6.2: the server challenges the first Allocate).
            bool signed = _key is not null && (method != StunMethod.Binding || challenged);
            byte[] transactionId = RandomNumberGenerator.GetBytes(StunConstants.TransactionIdLength);
            byte[] request = Build(method, attributes, transactionId, signed);
            StunAnswer answer = await TransactAsync(method, request, transactionId, signed).ConfigureAwait(false);
            if (answer.Class == StunClass.SuccessResponse)
            {
                return answer;
            }
            switch (answer.ErrorCode)
            {
                case StunErrorCode.Unauthenticated when !signed && !challenged:
                    // RFC 8489 §9.2.4 step 1: the challenge. Take REALM and NONCE, derive the key, try again.
                    TakeChallenge(answer);
                    challenged = true;
                    continue;
                case StunErrorCode.StaleNonce when signed && staleNonces < 2:
                    // RFC 8489 §9.2.5: 438 with a new NONCE (and REALM): retry with them.
                    staleNonces++;
                    TakeChallenge(answer);
                    continue;
                default:
                    throw new ProbeFailureException(StunErrors.Describe(method, answer, signed));
            }
        }
    }

    private void TakeChallenge(StunAnswer answer)
    {
        if (answer.Realm is null || answer.Nonce is null)
        {
            throw new ProbeFailureException(
                $"{answer.ErrorCode} {answer.ReasonText} without {(answer.Realm is null ? "REALM" : "NONCE")}: the server's challenge cannot be answered (RFC 8489 §9.2.4)");
        }
        if (answer.Realm.Length > StunConstants.MaxRealmOrNonceLength || answer.Nonce.Length > StunConstants.MaxRealmOrNonceLength)
        {
            throw new ProbeFailureException($"{answer.ErrorCode} {answer.ReasonText} with a REALM or NONCE longer than RFC 8489 §14.9-§14.10 allow");
        }
        if (answer.PasswordAlgorithms is { Length: > MaxPasswordAlgorithmsLength })
        {
            // It is echoed back in every request: a list this long cannot be honest (two algorithms take 8 bytes).
            throw new ProbeFailureException($"{answer.ErrorCode} {answer.ReasonText} with a PASSWORD-ALGORITHMS of {answer.PasswordAlgorithms.Length} bytes (RFC 8489 §14.11)");
        }
        _realm = answer.Realm;
        _nonce = answer.Nonce;
        // RFC 8489 §9.2.4: SHA-256 only when the nonce carries the security feature cookie and the server
        // lists SHA-256 among PASSWORD-ALGORITHMS; the list is echoed back unchanged (downgrade protection).
        bool sha256 = answer.Nonce.AsSpan().StartsWith(NonceCookie) && answer.PasswordAlgorithms is { } offered && OffersSha256(offered);
        _passwordAlgorithms = sha256 ? answer.PasswordAlgorithms : null;
        UsesSha256 = sha256;
        PasswordAlgorithm algorithm = sha256 ? PasswordAlgorithm.Sha256 : PasswordAlgorithm.Md5;
        if (_key is not null)
        {
            CryptographicOperations.ZeroMemory(_key);
        }
        _key = new byte[sha256 ? LongTermCredential.Sha256KeyLength : LongTermCredential.Md5KeyLength];
        LongTermCredential.DeriveKey(algorithm, _username, _realm, _password, _key);
    }

    /// <summary>PASSWORD-ALGORITHMS, RFC 8489 §14.11: entries of algorithm (2 bytes), length (2), parameters padded to 4.</summary>
    private static bool OffersSha256(ReadOnlySpan<byte> list)
    {
        while (list.Length >= 4)
        {
            ushort algorithm = BinaryPrimitives.ReadUInt16BigEndian(list);
            int next = 4 + StunPadding.Pad4(BinaryPrimitives.ReadUInt16BigEndian(list[2..]));
            if (algorithm == (ushort)PasswordAlgorithm.Sha256)
            {
                return true;
            }
            if (next > list.Length)
            {
                return false;
            }
            list = list[next..];
        }
        return false;
    }

    private byte[] Build(StunMethod method, AttributeWriter? attributes, byte[] transactionId, bool signed)
    {
        byte[] buffer = new byte[4096];
        var writer = new StunMessageWriter(buffer, method, StunClass.Request, transactionId);
        attributes?.Invoke(ref writer);
        if (signed)
        {
            writer.AddAttribute(StunAttributeType.Username, _username);
            writer.AddAttribute(StunAttributeType.Realm, _realm);
            writer.AddAttribute(StunAttributeType.Nonce, _nonce);
            if (_passwordAlgorithms is not null)
            {
                writer.AddAttribute(StunAttributeType.PasswordAlgorithms, _passwordAlgorithms);
                writer.AddUInt32(StunAttributeType.PasswordAlgorithm, (uint)PasswordAlgorithm.Sha256 << 16);
                writer.AddMessageIntegritySha256(_key);
            }
            else
            {
                writer.AddMessageIntegrity(_key);
            }
        }
        // RFC 8489 §7: FINGERPRINT lets the server tell STUN from anything else on the port.
        writer.AddFingerprint();
        return buffer[..writer.Length];
    }

    /// <summary>
    /// One transaction: RFC 8489 §6.2.1 over UDP (RTO 500 ms, doubled after each try, until the timeout),
    /// §6.2.2 over streams (sent once). Messages that are not the answer are counted and passed over.
    /// </summary>
    private async Task<StunAnswer> TransactAsync(StunMethod method, byte[] request, byte[] transactionId, bool signed)
    {
        long started = Stopwatch.GetTimestamp();
        TimeSpan rto = InitialRto;
        TimeSpan nextSend = TimeSpan.Zero;
        while (true)
        {
            TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
            if (elapsed >= _timeout)
            {
                throw new ProbeFailureException(NoAnswer(method));
            }
            if (elapsed >= nextSend)
            {
                await _connection.SendAsync(request, _cancellation).ConfigureAwait(false);
                nextSend = _connection.IsReliable ? TimeSpan.MaxValue : elapsed + rto;
                rto *= 2;
            }
            TimeSpan until = nextSend == TimeSpan.MaxValue ? _timeout : TimeSpan.FromTicks(Math.Min(nextSend.Ticks, _timeout.Ticks));
            byte[]? message = await _connection.ReceiveAsync(until - Stopwatch.GetElapsedTime(started), _cancellation).ConfigureAwait(false);
            if (message is null)
            {
                continue;
            }
            if (StunAnswer.TryRead(message, transactionId, signed ? _key : null, out StunAnswer? answer, out bool relevant))
            {
                return answer!;
            }
            if (relevant)
            {
                _ignored++;
            }
        }
    }

    private string NoAnswer(StunMethod method)
    {
        string text = $"no answer to {method} within {ProbeText.Seconds(_timeout)} over {TransportName}";
        if (_connection.SawPortUnreachable)
        {
            text += " (ICMP port unreachable came back: nothing listens on that port?)";
        }
        if (_ignored > 0)
        {
            text += $"; {_ignored} unreadable or unauthentic message(s) ignored";
        }
        return text;
    }

    public async Task SendChannelDataAsync(ushort channel, byte[] payload)
    {
        // RFC 8656 §12.5: padded to 4 bytes over streams; over UDP the padding may be left out.
        int length = ChannelData.HeaderLength + payload.Length;
        byte[] message = new byte[_connection.IsReliable ? StunPadding.Pad4(length) : length];
        ChannelData.WriteHeader(message, channel, payload.Length);
        payload.CopyTo(message, ChannelData.HeaderLength);
        await _connection.SendAsync(message, _cancellation).ConfigureAwait(false);
    }

    /// <summary>
    /// The next relayed payload from <paramref name="peer"/>: ChannelData on <paramref name="channel"/>
    /// (RFC 8656 §12.7), or a Data indication (§11.3) for a server that did not use the channel.
    /// Anything else is passed over. Null when nothing came within <paramref name="wait"/>.
    /// </summary>
    public async Task<byte[]?> ReceiveRelayedAsync(ushort channel, TransportAddress peer, TimeSpan wait)
    {
        long started = Stopwatch.GetTimestamp();
        while (true)
        {
            TimeSpan left = wait - Stopwatch.GetElapsedTime(started);
            byte[]? message = left > TimeSpan.Zero ? await _connection.ReceiveAsync(left, _cancellation).ConfigureAwait(false) : null;
            if (message is null)
            {
                return null;
            }
            if (TryReadRelayed(message, channel, peer, out byte[]? payload))
            {
                return payload;
            }
        }
    }

    private static bool TryReadRelayed(byte[] message, ushort channel, TransportAddress peer, out byte[]? payload)
    {
        payload = null;
        if (ChannelData.TryRead(message, out ushort number, out int length))
        {
            if (number != channel)
            {
                return false;
            }
            payload = message.AsSpan(ChannelData.HeaderLength, length).ToArray();
            return true;
        }
        if (StunMessageReader.TryParse(message, out StunMessageReader indication) == StunParseError.None
            && indication.Method == StunMethod.Data && indication.Class == StunClass.Indication
            && indication.TryGetXorAddress(StunAttributeType.XorPeerAddress, out TransportAddress from) && from == peer
            && indication.TryGetAttribute(StunAttributeType.Data, out ReadOnlySpan<byte> data))
        {
            payload = data.ToArray();
            return true;
        }
        return false;
    }

    /// <summary>
    /// For the clean-up after a cancelled probe: from now on requests are bounded by <paramref name="limit"/>
    /// instead of the caller's token, which has fired, so that the allocation can still be deleted.
    /// </summary>
    public void BoundRequestsBy(TimeSpan limit)
    {
        _cleanupLimit?.Dispose();
        _cleanupLimit = new CancellationTokenSource(limit);
        _cancellation = _cleanupLimit.Token;
    }

    public async ValueTask DisposeAsync()
    {
        _cleanupLimit?.Dispose();
        if (_key is not null)
        {
            CryptographicOperations.ZeroMemory(_key);
        }
        CryptographicOperations.ZeroMemory(_password);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
