using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;

namespace EdgeRelay.Stun;

/// <summary>
/// Builds one STUN message into the caller's buffer. The header length is kept current after every
/// attribute, so integrity and fingerprint can be computed in place. The buffer must be large enough
/// for what the caller writes; running out is a programming error and throws.
/// </summary>
public ref struct StunMessageWriter
{
    private readonly Span<byte> _buffer;
    private int _length;

    public StunMessageWriter(Span<byte> buffer, StunMethod method, StunClass @class, scoped ReadOnlySpan<byte> transactionId)
    {
        if (buffer.Length < StunConstants.HeaderLength)
        {
            ThrowBufferTooSmall();
        }
        _buffer = buffer;
        BinaryPrimitives.WriteUInt16BigEndian(buffer, StunMessageType.Encode(method, @class));
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], StunConstants.MagicCookie);
        transactionId[..StunConstants.TransactionIdLength].CopyTo(buffer[8..]);
        _length = StunConstants.HeaderLength;
    }

    public readonly int Length => _length;
    public readonly ReadOnlySpan<byte> Written => _buffer[.._length];

    /// <summary>Reserves an attribute of <paramref name="valueLength"/> bytes, zero-pads it, and returns its value to fill.</summary>
    public Span<byte> AddAttribute(StunAttributeType type, int valueLength)
    {
        int padded = StunPadding.Pad4(valueLength);
        // The header's 16-bit length field must describe the whole message (RFC 8489 §5).
        if ((uint)valueLength > ushort.MaxValue
            || _length + StunConstants.AttributeHeaderLength + padded > _buffer.Length
            || _length - StunConstants.HeaderLength + StunConstants.AttributeHeaderLength + padded > ushort.MaxValue)
        {
            ThrowBufferTooSmall();
        }
        Span<byte> attribute = _buffer.Slice(_length, StunConstants.AttributeHeaderLength + padded);
        BinaryPrimitives.WriteUInt16BigEndian(attribute, (ushort)type);
        BinaryPrimitives.WriteUInt16BigEndian(attribute[2..], (ushort)valueLength);
        attribute[(StunConstants.AttributeHeaderLength + valueLength)..].Clear();
        _length += attribute.Length;
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[2..], (ushort)(_length - StunConstants.HeaderLength));
        return attribute.Slice(StunConstants.AttributeHeaderLength, valueLength);
    }

    public void AddAttribute(StunAttributeType type, scoped ReadOnlySpan<byte> value) => value.CopyTo(AddAttribute(type, value.Length));

    public void AddUInt32(StunAttributeType type, uint value) =>
        BinaryPrimitives.WriteUInt32BigEndian(AddAttribute(type, 4), value);

    public void AddString(StunAttributeType type, string value) =>
        Encoding.UTF8.GetBytes(value, AddAttribute(type, Encoding.UTF8.GetByteCount(value)));

    public void AddAddress(StunAttributeType type, in TransportAddress address) =>
        StunAddressCodec.Encode(AddAttribute(type, StunAddressCodec.GetValueLength(address)), address);

    public void AddXorAddress(StunAttributeType type, in TransportAddress address) =>
        StunAddressCodec.EncodeXor(AddAttribute(type, StunAddressCodec.GetValueLength(address)), address,
            _buffer.Slice(8, StunConstants.TransactionIdLength));

    public void AddErrorCode(int code) => AddErrorCode(code, StunErrorCode.GetReasonPhrase(code));

    public void AddErrorCode(int code, string reason)
    {
        Span<byte> value = AddAttribute(StunAttributeType.ErrorCode, 4 + Encoding.UTF8.GetByteCount(reason));
        StunErrorCodeCodec.Encode(value, code, reason);
    }

    /// <summary>UNKNOWN-ATTRIBUTES, RFC 8489 §14.13: a list of 16-bit types.</summary>
    public void AddUnknownAttributes(scoped ReadOnlySpan<ushort> types)
    {
        Span<byte> value = AddAttribute(StunAttributeType.UnknownAttributes, types.Length * 2);
        for (int i = 0; i < types.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(value[(i * 2)..], types[i]);
        }
    }

    /// <summary>CHANGE-REQUEST, RFC 5780 §7.2.</summary>
    public void AddChangeRequest(ChangeRequestFlags flags) => ChangeRequest.Encode(AddAttribute(StunAttributeType.ChangeRequest, ChangeRequest.ValueLength), flags);

    /// <summary>RESPONSE-PORT, RFC 5780 §7.5.</summary>
    public void AddResponsePort(ushort port) => ResponsePort.Encode(AddAttribute(StunAttributeType.ResponsePort, ResponsePort.ValueLength), port);

    /// <summary>
    /// PADDING, RFC 5780 §7.6, of <paramref name="length"/> bytes (a multiple of 4, so the attribute needs no
    /// padding of its own). The value "does not matter"; it is zeros.
    /// </summary>
    public void AddPadding(int length)
    {
        if (length < 0 || (length & 3) != 0)
        {
            ThrowBufferTooSmall();
        }
        AddAttribute(StunAttributeType.Padding, length).Clear();
    }

    /// <summary>MESSAGE-INTEGRITY, RFC 8489 §14.5: HMAC-SHA1 over everything before it.</summary>
    public void AddMessageIntegrity(scoped ReadOnlySpan<byte> key)
    {
        int covered = _length;
        Span<byte> value = AddAttribute(StunAttributeType.MessageIntegrity, StunConstants.MessageIntegrityLength);
        HMACSHA1.HashData(key, _buffer[..covered], value);
    }

    /// <summary>MESSAGE-INTEGRITY-SHA256, RFC 8489 §14.6 (full 32 bytes).</summary>
    public void AddMessageIntegritySha256(scoped ReadOnlySpan<byte> key)
    {
        int covered = _length;
        Span<byte> value = AddAttribute(StunAttributeType.MessageIntegritySha256, StunConstants.MessageIntegritySha256Length);
        HMACSHA256.HashData(key, _buffer[..covered], value);
    }

    /// <summary>FINGERPRINT, RFC 8489 §14.7: always the last attribute.</summary>
    public void AddFingerprint()
    {
        int covered = _length;
        Span<byte> value = AddAttribute(StunAttributeType.Fingerprint, StunConstants.FingerprintLength);
        BinaryPrimitives.WriteUInt32BigEndian(value,
            StunIntegrity.ComputeFingerprint(_buffer[..covered], _length - StunConstants.HeaderLength));
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowBufferTooSmall() =>
        throw new ArgumentException("The STUN message being written does not fit the buffer or its 16-bit length field.");
}
