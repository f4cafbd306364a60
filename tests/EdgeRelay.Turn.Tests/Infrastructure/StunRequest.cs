using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using EdgeRelay.Stun;

namespace EdgeRelay.Turn.Tests.Infrastructure;

/// <summary>
/// A STUN message to be written with <see cref="StunMessageWriter"/>: the attributes in the order they were
/// added, then (when <see cref="Encode"/> is given credentials) USERNAME or USERHASH, REALM, NONCE,
/// PASSWORD-ALGORITHMS, PASSWORD-ALGORITHM and MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256, then FINGERPRINT.
/// </summary>
public sealed class StunRequest
{
    public const byte ProtocolUdp = 17;
    public const byte ProtocolTcp = 6;

    private readonly List<(ushort Type, byte[]? Value, TransportAddress? XorAddress)> _attributes = [];

    public StunRequest(StunMethod method, StunClass @class = StunClass.Request)
    {
        Method = method;
        Class = @class;
        TransactionId = RandomNumberGenerator.GetBytes(StunConstants.TransactionIdLength);
    }

    public StunMethod Method { get; }
    public StunClass Class { get; }
    public byte[] TransactionId { get; private set; }
    public bool Fingerprint { get; private set; }

    /// <summary>A new transaction ID, as a client uses for a new transaction (not a retransmission).</summary>
    public StunRequest NewTransaction()
    {
        TransactionId = RandomNumberGenerator.GetBytes(StunConstants.TransactionIdLength);
        return this;
    }

    /// <summary>Another request's transaction ID: a client that reuses one, which a retransmission alone may do.</summary>
    public StunRequest WithTransactionId(byte[] transactionId)
    {
        TransactionId = (byte[])transactionId.Clone();
        return this;
    }

    public StunRequest Attribute(ushort type, byte[] value)
    {
        _attributes.Add((type, value, null));
        return this;
    }

    public StunRequest Attribute(StunAttributeType type, byte[] value) => Attribute((ushort)type, value);

    public StunRequest UInt32(StunAttributeType type, uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return Attribute(type, bytes);
    }

    public StunRequest XorAddress(StunAttributeType type, TransportAddress address)
    {
        _attributes.Add(((ushort)type, null, address));
        return this;
    }

    public StunRequest RequestedTransport(byte protocol = ProtocolUdp) => Attribute(StunAttributeType.RequestedTransport, [protocol, 0, 0, 0]);
    public StunRequest Lifetime(uint seconds) => UInt32(StunAttributeType.Lifetime, seconds);
    public StunRequest XorPeerAddress(TransportAddress peer) => XorAddress(StunAttributeType.XorPeerAddress, peer);
    public StunRequest ChannelNumber(ushort channel) => Attribute(StunAttributeType.ChannelNumber, [(byte)(channel >> 8), (byte)channel, 0, 0]);
    public StunRequest Data(byte[] payload) => Attribute(StunAttributeType.Data, payload);
    public StunRequest RequestedAddressFamily(StunAddressFamily family) => Attribute(StunAttributeType.RequestedAddressFamily, [(byte)family, 0, 0, 0]);
    public StunRequest AdditionalAddressFamily(StunAddressFamily family) => Attribute(StunAttributeType.AdditionalAddressFamily, [(byte)family, 0, 0, 0]);
    public StunRequest EvenPort(bool reserveNext) => Attribute(StunAttributeType.EvenPort, [(byte)(reserveNext ? 0x80 : 0x00)]);
    public StunRequest ReservationToken(byte[] token) => Attribute(StunAttributeType.ReservationToken, token);
    public StunRequest DontFragment() => Attribute(StunAttributeType.DontFragment, []);

    public StunRequest WithFingerprint()
    {
        Fingerprint = true;
        return this;
    }

    public byte[] Encode(StunAuth? auth = null)
    {
        var buffer = new byte[4096];
        var writer = new StunMessageWriter(buffer, Method, Class, TransactionId);
        foreach ((ushort type, byte[]? value, TransportAddress? xorAddress) in _attributes)
        {
            if (xorAddress is { } address)
            {
                writer.AddXorAddress((StunAttributeType)type, address);
            }
            else
            {
                writer.AddAttribute((StunAttributeType)type, value!);
            }
        }
        if (auth is not null)
        {
            if (auth.Username is not null)
            {
                writer.AddString(StunAttributeType.Username, auth.Username);
            }
            if (auth.Userhash is not null)
            {
                writer.AddAttribute(StunAttributeType.Userhash, auth.Userhash);
            }
            if (auth.Realm is not null)
            {
                writer.AddAttribute(StunAttributeType.Realm, auth.Realm);
            }
            if (auth.Nonce is not null)
            {
                writer.AddAttribute(StunAttributeType.Nonce, auth.Nonce);
            }
            if (auth.PasswordAlgorithms is not null)
            {
                writer.AddAttribute(StunAttributeType.PasswordAlgorithms, auth.PasswordAlgorithms);
            }
            if (auth.PasswordAlgorithm is { } algorithm)
            {
                BinaryPrimitives.WriteUInt32BigEndian(writer.AddAttribute(StunAttributeType.PasswordAlgorithm, 4), (uint)algorithm << 16);
            }
            if (auth.Sha256Integrity)
            {
                writer.AddMessageIntegritySha256(auth.Key);
            }
            else
            {
                writer.AddMessageIntegrity(auth.Key);
            }
        }
        if (Fingerprint)
        {
            writer.AddFingerprint();
        }
        return buffer.AsSpan(0, writer.Length).ToArray();
    }
}
