using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using EdgeRelay.Stun;

namespace EdgeRelay.Turn.Auth;

/// <summary>
/// Stateless nonces (RFC 8489 §9.2): nothing is stored per client. A nonce is
/// <c>"obMatJos2" + base64(security feature set) + base64url(expiry || serial || HMAC-SHA256(key, expiry || serial || client IP)[..12])</c>.
/// The nonce cookie and feature set (§9.2, §18.1) tell RFC 8489 clients that PASSWORD-ALGORITHMS
/// and USERHASH are offered. The expiry is on the monotonic clock, so a step of the wall clock neither
/// shortens nor stretches a nonce; the key is random per process.
/// </summary>
public sealed class NonceService
{
    /// <summary>RFC 8489 §9.2: the nonce cookie that announces the security feature set.</summary>
    public static ReadOnlySpan<byte> Cookie => "obMatJos2"u8;

    /// <summary>
    /// The 24-bit security feature set, base64 in 4 characters: bit 0 "Password algorithms" and bit 1
    /// "Username anonymity" (RFC 8489 §18.1), counted from the least significant bit as the RFC's
    /// erratum and its own Appendix B.1 nonce ("AAAC", USERHASH in use) read it: 0x000003 is "AAAD".
    /// </summary>
    public static ReadOnlySpan<byte> FeatureSet => "AAAD"u8;

    private const int ExpiryLength = 8;

    /// <summary>
    /// A serial number per nonce issued: RFC 8489 §9.2.4 forbids handing the same nonce to two requests
    /// unless they share source IP address and port, and the MAC alone binds only the IP address.
    /// </summary>
    private const int SerialLength = 4;
    private const int SignedLength = ExpiryLength + SerialLength;
    private const int MacLength = 12;
    private const int PayloadLength = SignedLength + MacLength;
    private static readonly int EncodedPayloadLength = Base64Url.GetEncodedLength(PayloadLength);

    /// <summary>Length of every nonce this service issues.</summary>
    public static int NonceLength => Cookie.Length + FeatureSet.Length + EncodedPayloadLength;

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly TurnClock _clock;
    private long _lifetimeMs;
    private uint _serial;

    public NonceService(TurnClock clock, TimeSpan lifetime)
    {
        _clock = clock;
        Lifetime = lifetime;
    }

    /// <summary>
    /// How long the nonces issued from now on stay valid. Settable so that a new configuration keeps this
    /// service, and with it the key: the nonces already handed out stay valid until their own expiry,
    /// which each nonce carries.
    /// </summary>
    public TimeSpan Lifetime
    {
        get => TimeSpan.FromMilliseconds(_lifetimeMs);
        set => _lifetimeMs = (long)value.TotalMilliseconds;
    }

    /// <summary>Writes a fresh nonce for <paramref name="client"/>; returns its length (<see cref="NonceLength"/>).</summary>
    public int Write(in TransportAddress client, Span<byte> destination)
    {
        Cookie.CopyTo(destination);
        FeatureSet.CopyTo(destination[Cookie.Length..]);
        Span<byte> payload = stackalloc byte[PayloadLength];
        BinaryPrimitives.WriteInt64BigEndian(payload, _clock.NowMs + _lifetimeMs);
        BinaryPrimitives.WriteUInt32BigEndian(payload[ExpiryLength..], ++_serial);
        ComputeMac(payload[..SignedLength], client, payload[SignedLength..]);
        Base64Url.EncodeToUtf8(payload, destination[(Cookie.Length + FeatureSet.Length)..], out _, out int encoded);
        return Cookie.Length + FeatureSet.Length + encoded;
    }

    public NonceValidity Validate(ReadOnlySpan<byte> nonce, in TransportAddress client)
    {
        if (nonce.Length != NonceLength || !nonce.StartsWith(Cookie) || !nonce[Cookie.Length..].StartsWith(FeatureSet))
        {
            return NonceValidity.Invalid;
        }
        Span<byte> payload = stackalloc byte[PayloadLength];
        if (Base64Url.DecodeFromUtf8(nonce[(Cookie.Length + FeatureSet.Length)..], payload, out _, out int decoded) != System.Buffers.OperationStatus.Done
            || decoded != PayloadLength)
        {
            return NonceValidity.Invalid;
        }
        Span<byte> mac = stackalloc byte[MacLength];
        ComputeMac(payload[..SignedLength], client, mac);
        if (!CryptographicOperations.FixedTimeEquals(mac, payload[SignedLength..]))
        {
            return NonceValidity.Invalid;
        }
        long expiry = BinaryPrimitives.ReadInt64BigEndian(payload);
        return _clock.NowMs < expiry ? NonceValidity.Valid : NonceValidity.Stale;
    }

    private void ComputeMac(ReadOnlySpan<byte> signed, in TransportAddress client, Span<byte> destination)
    {
        // Bound to the client's IP address but not its port: a client that reconnects over TCP keeps it.
        Span<byte> input = stackalloc byte[SignedLength + 16];
        signed.CopyTo(input);
        int addressLength = client.WriteAddressBytes(input[SignedLength..]);
        Span<byte> full = stackalloc byte[32];
        HMACSHA256.HashData(_key, input[..(SignedLength + addressLength)], full);
        full[..MacLength].CopyTo(destination);
    }
}
