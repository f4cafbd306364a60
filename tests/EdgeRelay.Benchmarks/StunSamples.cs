using System.Buffers.Binary;
using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using EdgeRelay.Stun;

namespace EdgeRelay.Benchmarks;

/// <summary>Writes the attributes of one message that come before its credentials.</summary>
public delegate void AttributeWriter(ref StunMessageWriter writer);

/// <summary>How a request is signed (RFC 8489 §9.2.3).</summary>
public enum RequestSigning
{
    None,

    /// <summary>RFC 5389 style, as browsers sign today: MESSAGE-INTEGRITY (HMAC-SHA1) with the MD5 key.</summary>
    MessageIntegrity,

    /// <summary>RFC 8489: PASSWORD-ALGORITHMS, PASSWORD-ALGORITHM SHA-256 and MESSAGE-INTEGRITY-SHA256 with the SHA-256 key.</summary>
    MessageIntegritySha256,
}

/// <summary>
/// The messages the benchmarks feed in, of the sizes a WebRTC client really sends: a TURN REST user name
/// (EXPIRY:NAME, as an application server hands it to a browser), the realm of the default configuration,
/// and a nonce of the length this server issues. Everything is fixed, so every run measures the same bytes.
/// </summary>
public static class StunSamples
{
    public const string Realm = "edgerelay.local";
    public const string SharedSecret = "rest-api-secret";
    public const string Software = "EdgeRelay";

    /// <summary>The wall clock of every benchmark: TURN REST user names are checked against it.</summary>
    public static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>A TURN REST user name valid for 12 hours from <see cref="Now"/> ("1767268800:alice").</summary>
    public static readonly string Username = $"{Now.AddHours(12).ToUnixTimeSeconds()}:alice";

    /// <summary>base64(HMAC-SHA1(secret, user name)), as the TURN REST scheme derives it.</summary>
    public static readonly string Password = Convert.ToBase64String(
        HMACSHA1.HashData(Encoding.UTF8.GetBytes(SharedSecret), Encoding.UTF8.GetBytes(Username)));

    public static readonly byte[] Md5Key = LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, Username, Realm, Password);
    public static readonly byte[] Sha256Key = LongTermCredential.DeriveKey(PasswordAlgorithm.Sha256, Username, Realm, Password);

    /// <summary>A nonce of the shape the server's NonceService issues: cookie, feature set, 32 base64url characters (45 bytes).</summary>
    public static readonly byte[] Nonce = Encoding.ASCII.GetBytes(
        "obMatJos2AAAD" + Base64Url.EncodeToString(Enumerable.Range(0, 24).Select(i => (byte)(i * 37)).ToArray()));

    /// <summary>PASSWORD-ALGORITHMS as the server offers them: SHA-256, then MD5 (RFC 8489 §14.11).</summary>
    public static ReadOnlySpan<byte> OfferedPasswordAlgorithms => [0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];

    public static readonly TransportAddress Client = Address("203.0.113.50", 40000);
    public static readonly TransportAddress ServerAddress = Address("192.0.2.1", 3478);
    public static readonly IPAddress AdvertisedRelayAddress = IPAddress.Parse("198.51.100.7");
    public static readonly TransportAddress RelayedAddress = Address("198.51.100.7", 49152);

    /// <summary>Two globally routable peers, so that the default peer policy lets them through.</summary>
    public static readonly TransportAddress ChannelPeer = Address("93.184.216.34", 5000);
    public static readonly TransportAddress IndicationPeer = Address("151.101.1.69", 6000);

    /// <summary>
    /// RFC 5769 §2.1 byte for byte (108 bytes): a Binding request with SOFTWARE, PRIORITY, ICE-CONTROLLED,
    /// USERNAME, MESSAGE-INTEGRITY and FINGERPRINT, as ICE agents send them.
    /// </summary>
    public static byte[] Rfc5769SampleRequest => Convert.FromHexString(
        "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e20746573742063"
        + "6c69656e74002400046e0001ff80290008932ff9b151263b36000600096576746a3a6836"
        + "7659202020000800149aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf");

    public static TransportAddress Address(string ip, int port) => TransportAddress.FromIPAddress(IPAddress.Parse(ip), port);

    /// <summary>A transaction ID that differs for every <paramref name="serial"/>, the same in every run.</summary>
    public static byte[] TransactionId(int serial)
    {
        var id = new byte[StunConstants.TransactionIdLength];
        BinaryPrimitives.WriteInt64BigEndian(id, 0x0EDE_0E1A_7BE7_C4A0);
        BinaryPrimitives.WriteInt32BigEndian(id.AsSpan(8), serial);
        return id;
    }

    /// <summary>Application data of <paramref name="length"/> bytes (what it holds does not change any cost measured here).</summary>
    public static byte[] Payload(int length) => Enumerable.Range(0, length).Select(i => (byte)(i * 31 + 7)).ToArray();

    /// <summary>
    /// One message: header, <paramref name="attributes"/>, then USERNAME, REALM, NONCE (and for SHA-256
    /// PASSWORD-ALGORITHMS and PASSWORD-ALGORITHM) and the integrity attribute, then FINGERPRINT.
    /// </summary>
    public static byte[] Message(StunMethod method, StunClass @class, ReadOnlySpan<byte> transactionId, AttributeWriter? attributes,
        RequestSigning signing = RequestSigning.None, byte[]? nonce = null, bool fingerprint = true)
    {
        var buffer = new byte[65536];
        var writer = new StunMessageWriter(buffer, method, @class, transactionId);
        attributes?.Invoke(ref writer);
        if (signing != RequestSigning.None)
        {
            writer.AddString(StunAttributeType.Username, Username);
            writer.AddString(StunAttributeType.Realm, Realm);
            writer.AddAttribute(StunAttributeType.Nonce, nonce ?? Nonce);
            if (signing == RequestSigning.MessageIntegritySha256)
            {
                writer.AddAttribute(StunAttributeType.PasswordAlgorithms, OfferedPasswordAlgorithms);
                BinaryPrimitives.WriteUInt32BigEndian(writer.AddAttribute(StunAttributeType.PasswordAlgorithm, 4),
                    (uint)PasswordAlgorithm.Sha256 << 16);
                writer.AddMessageIntegritySha256(Sha256Key);
            }
            else
            {
                writer.AddMessageIntegrity(Md5Key);
            }
        }
        if (fingerprint)
        {
            writer.AddFingerprint();
        }
        return buffer.AsSpan(0, writer.Length).ToArray();
    }

    /// <summary>An Allocate request for UDP relaying, signed after the 401 challenge (RFC 8656 §7.1).</summary>
    public static byte[] AllocateRequest(ReadOnlySpan<byte> transactionId, RequestSigning signing, byte[]? nonce = null) =>
        Message(StunMethod.Allocate, StunClass.Request, transactionId,
            static (ref StunMessageWriter writer) => writer.AddAttribute(StunAttributeType.RequestedTransport, [17, 0, 0, 0]),
            signing, nonce);

    /// <summary>A Refresh request for the default lifetime, signed (RFC 8656 §8.1).</summary>
    public static byte[] RefreshRequest(ReadOnlySpan<byte> transactionId, RequestSigning signing) =>
        Message(StunMethod.Refresh, StunClass.Request, transactionId,
            static (ref StunMessageWriter writer) => writer.AddUInt32(StunAttributeType.Lifetime, 600),
            signing);

    /// <summary>A Send indication (RFC 8656 §11.1): XOR-PEER-ADDRESS, DATA and, as browsers add it, FINGERPRINT.</summary>
    public static byte[] SendIndication(TransportAddress peer, byte[] payload) =>
        Message(StunMethod.Send, StunClass.Indication, TransactionId(0x5E4D),
            (ref StunMessageWriter writer) =>
            {
                writer.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
                writer.AddAttribute(StunAttributeType.Data, payload);
            });

    /// <summary>A Data indication as the server writes it (RFC 8656 §11.3): XOR-PEER-ADDRESS and DATA, no FINGERPRINT.</summary>
    public static byte[] DataIndication(TransportAddress peer, byte[] payload) =>
        Message(StunMethod.Data, StunClass.Indication, TransactionId(0xDA7A),
            (ref StunMessageWriter writer) =>
            {
                writer.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
                writer.AddAttribute(StunAttributeType.Data, payload);
            },
            fingerprint: false);

    /// <summary>A ChannelData message (RFC 8656 §12.4), unpadded as over UDP.</summary>
    public static byte[] ChannelDataMessage(ushort channel, byte[] payload)
    {
        var message = new byte[ChannelData.HeaderLength + payload.Length];
        ChannelData.WriteHeader(message, channel, payload.Length);
        payload.CopyTo(message, ChannelData.HeaderLength);
        return message;
    }
}
