using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace EdgeRelay.Stun;

/// <summary>
/// A parsed view of one STUN message over the caller's bytes. <see cref="TryParse"/> checks the header
/// and walks every attribute once; nothing is copied or allocated, and hostile input only ever yields an
/// error code.
/// </summary>
public readonly ref struct StunMessageReader
{
    private readonly ReadOnlySpan<byte> _message;

    private StunMessageReader(ReadOnlySpan<byte> message, int attributesEnd, int messageIntegrityOffset,
        int messageIntegritySha256Offset, int fingerprintOffset)
    {
        _message = message;
        AttributesEnd = attributesEnd;
        MessageIntegrityOffset = messageIntegrityOffset;
        MessageIntegritySha256Offset = messageIntegritySha256Offset;
        FingerprintOffset = fingerprintOffset;
    }

    public ReadOnlySpan<byte> Message => _message;
    public ushort MessageType => BinaryPrimitives.ReadUInt16BigEndian(_message);
    public StunMethod Method => StunMessageType.GetMethod(MessageType);
    public StunClass Class => StunMessageType.GetClass(MessageType);
    public ReadOnlySpan<byte> TransactionIdBytes => _message.Slice(8, StunConstants.TransactionIdLength);
    public TransactionId TransactionId => TransactionId.Read(TransactionIdBytes);

    /// <summary>
    /// End of the attributes that count. RFC 8489 §14.5-§14.7: after MESSAGE-INTEGRITY only
    /// MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count, after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT,
    /// and nothing after FINGERPRINT.
    /// </summary>
    public int AttributesEnd { get; }

    /// <summary>Offset of the MESSAGE-INTEGRITY attribute header, or -1.</summary>
    public int MessageIntegrityOffset { get; }

    /// <summary>Offset of the MESSAGE-INTEGRITY-SHA256 attribute header, or -1.</summary>
    public int MessageIntegritySha256Offset { get; }

    /// <summary>Offset of the FINGERPRINT attribute header, or -1.</summary>
    public int FingerprintOffset { get; }

    public bool HasMessageIntegrity => MessageIntegrityOffset >= 0;
    public bool HasMessageIntegritySha256 => MessageIntegritySha256Offset >= 0;
    public bool HasFingerprint => FingerprintOffset >= 0;

    /// <summary>
    /// True when the first byte has the two top bits clear, so the datagram may be STUN rather than
    /// ChannelData (RFC 8656 §12: ChannelData starts with 0b01).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool LooksLikeStun(ReadOnlySpan<byte> datagram) => datagram.Length > 0 && (datagram[0] & 0xC0) == 0;

    /// <summary>Reads the message length field of a header: used to frame STUN on a stream.</summary>
    public static bool TryReadHeaderLength(ReadOnlySpan<byte> header, out int messageLength)
    {
        if (header.Length < 4 || (header[0] & 0xC0) != 0)
        {
            messageLength = 0;
            return false;
        }
        messageLength = BinaryPrimitives.ReadUInt16BigEndian(header[2..]);
        return true;
    }

    /// <summary>
    /// Parses exactly one message: <paramref name="message"/> must hold the 20-byte header and all of
    /// the attributes the header announces, no more (RFC 8489 §6.3).
    /// </summary>
    public static StunParseError TryParse(ReadOnlySpan<byte> message, out StunMessageReader reader)
    {
        reader = default;
        if (message.Length < StunConstants.HeaderLength)
        {
            return StunParseError.TooShort;
        }
        if ((message[0] & 0xC0) != 0)
        {
            return StunParseError.NotStun;
        }
        if (BinaryPrimitives.ReadUInt32BigEndian(message[4..]) != StunConstants.MagicCookie)
        {
            return StunParseError.BadMagicCookie;
        }
        int length = BinaryPrimitives.ReadUInt16BigEndian(message[2..]);
        if ((length & 3) != 0 || length + StunConstants.HeaderLength != message.Length)
        {
            return StunParseError.BadLength;
        }

        int messageIntegrity = -1, messageIntegritySha256 = -1, fingerprint = -1;
        int attributesEnd = -1;
        int offset = StunConstants.HeaderLength;
        while (offset < message.Length)
        {
            if (message.Length - offset < StunConstants.AttributeHeaderLength)
            {
                return StunParseError.BadAttribute;
            }
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
            int valueLength = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 2)..]);
            int next = offset + StunConstants.AttributeHeaderLength + StunPadding.Pad4(valueLength);
            if (next > message.Length)
            {
                return StunParseError.BadAttribute;
            }

            // Nothing after FINGERPRINT counts; it is walked only to check that the message is well formed.
            if (fingerprint < 0)
            {
                switch ((StunAttributeType)type)
                {
                    case StunAttributeType.MessageIntegrity when messageIntegrity < 0 && messageIntegritySha256 < 0:
                        if (valueLength != StunConstants.MessageIntegrityLength)
                        {
                            return StunParseError.BadAttribute;
                        }
                        messageIntegrity = offset;
                        break;
                    case StunAttributeType.MessageIntegritySha256 when messageIntegritySha256 < 0:
                        // RFC 8489 §14.6: 16 to 32 bytes, a multiple of 4.
                        if (valueLength < 16 || valueLength > StunConstants.MessageIntegritySha256Length || (valueLength & 3) != 0)
                        {
                            return StunParseError.BadAttribute;
                        }
                        messageIntegritySha256 = offset;
                        break;
                    case StunAttributeType.Fingerprint:
                        if (valueLength != StunConstants.FingerprintLength)
                        {
                            return StunParseError.BadAttribute;
                        }
                        fingerprint = offset;
                        if (attributesEnd < 0)
                        {
                            attributesEnd = next;
                        }
                        break;
                    default:
                        if ((messageIntegrity >= 0 || messageIntegritySha256 >= 0) && attributesEnd < 0)
                        {
                            // Everything else after an integrity attribute is ignored (§14.5, §14.6), but
                            // MESSAGE-INTEGRITY-SHA256 and FINGERPRINT after it are still found.
                            attributesEnd = offset;
                        }
                        break;
                }
            }
            offset = next;
        }
        if (attributesEnd < 0)
        {
            attributesEnd = message.Length;
        }

        reader = new StunMessageReader(message, attributesEnd, messageIntegrity, messageIntegritySha256, fingerprint);
        return StunParseError.None;
    }

    public AttributeEnumerator GetEnumerator() => new(_message, AttributesEnd);

    /// <summary>The value of the first attribute of this type, as RFC 8489 §14 says only the first counts.</summary>
    public bool TryGetAttribute(StunAttributeType type, out ReadOnlySpan<byte> value)
    {
        foreach (StunAttribute attribute in this)
        {
            if (attribute.Type == (ushort)type)
            {
                value = attribute.Value;
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>As <see cref="TryGetAttribute(StunAttributeType, out ReadOnlySpan{byte})"/>, with where the value starts in the message.</summary>
    public bool TryGetAttribute(StunAttributeType type, out ReadOnlySpan<byte> value, out int valueOffset)
    {
        foreach (StunAttribute attribute in this)
        {
            if (attribute.Type == (ushort)type)
            {
                value = attribute.Value;
                valueOffset = attribute.Offset + StunConstants.AttributeHeaderLength;
                return true;
            }
        }
        value = default;
        valueOffset = 0;
        return false;
    }

    public bool HasAttribute(StunAttributeType type) => TryGetAttribute(type, out _);

    public bool TryGetUInt32(StunAttributeType type, out uint value)
    {
        if (TryGetAttribute(type, out ReadOnlySpan<byte> bytes) && bytes.Length == 4)
        {
            value = BinaryPrimitives.ReadUInt32BigEndian(bytes);
            return true;
        }
        value = 0;
        return false;
    }

    public bool TryGetXorAddress(StunAttributeType type, out TransportAddress address)
    {
        address = default;
        return TryGetAttribute(type, out ReadOnlySpan<byte> value)
            && StunAddressCodec.TryDecodeXor(value, TransactionIdBytes, out address);
    }

    /// <summary>CHANGE-REQUEST (RFC 5780 §7.2); false when absent or malformed.</summary>
    public bool TryGetChangeRequest(out ChangeRequestFlags flags)
    {
        flags = ChangeRequestFlags.None;
        return TryGetAttribute(StunAttributeType.ChangeRequest, out ReadOnlySpan<byte> value) && ChangeRequest.TryDecode(value, out flags);
    }

    /// <summary>RESPONSE-PORT (RFC 5780 §7.5); false when absent or malformed.</summary>
    public bool TryGetResponsePort(out ushort port)
    {
        port = 0;
        return TryGetAttribute(StunAttributeType.ResponsePort, out ReadOnlySpan<byte> value) && ResponsePort.TryDecode(value, out port);
    }

    public bool TryGetErrorCode(out int code, out ReadOnlySpan<byte> reason)
    {
        code = 0;
        reason = default;
        return TryGetAttribute(StunAttributeType.ErrorCode, out ReadOnlySpan<byte> value)
            && StunErrorCodeCodec.TryDecode(value, out code, out reason);
    }

    /// <summary>
    /// The first comprehension-required attribute type that this server does not understand, for a
    /// 420 answer (RFC 8489 §7.3.1). Writes up to <paramref name="unknown"/>.Length of them.
    /// </summary>
    public int CollectUnknownComprehensionRequired(Span<ushort> unknown) => CollectUnknownComprehensionRequired(unknown, natBehaviorDiscovery: false);

    /// <summary>
    /// As <see cref="CollectUnknownComprehensionRequired(Span{ushort})"/>; with <paramref name="natBehaviorDiscovery"/>
    /// CHANGE-REQUEST, PADDING and RESPONSE-PORT (RFC 5780 §7) count as understood.
    /// </summary>
    public int CollectUnknownComprehensionRequired(Span<ushort> unknown, bool natBehaviorDiscovery)
    {
        int count = 0;
        foreach (StunAttribute attribute in this)
        {
            if (StunAttributeTypes.IsComprehensionRequired(attribute.Type)
                && !StunAttributeTypes.IsKnownComprehensionRequired(attribute.Type)
                && !(natBehaviorDiscovery && StunAttributeTypes.IsNatBehaviorDiscovery(attribute.Type))
                && count < unknown.Length && !unknown[..count].Contains(attribute.Type))
            {
                unknown[count++] = attribute.Type;
            }
        }
        return count;
    }

    public ref struct AttributeEnumerator
    {
        private readonly ReadOnlySpan<byte> _message;
        private readonly int _end;
        private int _next;
        private StunAttribute _current;

        internal AttributeEnumerator(ReadOnlySpan<byte> message, int end)
        {
            _message = message;
            _end = end;
            _next = StunConstants.HeaderLength;
            _current = default;
        }

        public readonly StunAttribute Current => _current;

        public bool MoveNext()
        {
            // Bounds were checked once by TryParse; the walk only repeats it.
            if (_next + StunConstants.AttributeHeaderLength > _end)
            {
                return false;
            }
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(_message[_next..]);
            int length = BinaryPrimitives.ReadUInt16BigEndian(_message[(_next + 2)..]);
            _current = new StunAttribute(type, _message.Slice(_next + StunConstants.AttributeHeaderLength, length), _next);
            _next += StunConstants.AttributeHeaderLength + StunPadding.Pad4(length);
            return true;
        }

        public readonly AttributeEnumerator GetEnumerator() => this;
    }
}
