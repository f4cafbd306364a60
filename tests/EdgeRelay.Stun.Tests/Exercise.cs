using Xunit.Sdk;

namespace EdgeRelay.Stun.Tests;

/// <summary>
/// Runs every read-side API on a datagram, as a server would on hostile input, and checks the invariants a
/// successful parse promises. Used by the robustness tests: nothing here may throw.
/// </summary>
internal static class Exercise
{
    private static readonly byte[] Key = TestVectors.ShortTermKey;

    private static readonly StunAttributeType[] AddressTypes =
    [
        StunAttributeType.MappedAddress, StunAttributeType.XorMappedAddress, StunAttributeType.XorPeerAddress,
        StunAttributeType.XorRelayedAddress, StunAttributeType.AlternateServer,
    ];

    /// <summary>True when the datagram parsed as STUN. Any exception becomes a failure that names the input.</summary>
    public static bool Datagram(ReadOnlySpan<byte> datagram)
    {
        try
        {
            return Run(datagram);
        }
        catch (Exception e) when (e is not XunitException)
        {
            throw new XunitException($"threw on input {Hex.Of(datagram)}:{Environment.NewLine}{e}");
        }
    }

    private static bool Run(ReadOnlySpan<byte> datagram)
    {
        ChannelDataRead(datagram);
        _ = StunMessageReader.LooksLikeStun(datagram);
        if (StunMessageReader.TryReadHeaderLength(datagram, out int headerLength))
        {
            Check(headerLength is >= 0 and <= ushort.MaxValue, datagram, "header length out of range");
        }

        if (StunMessageReader.TryParse(datagram, out StunMessageReader message) != StunParseError.None)
        {
            return false;
        }

        Check(datagram.Length >= StunConstants.HeaderLength && (datagram[0] & 0xC0) == 0, datagram, "parsed a non-STUN datagram");
        Check(message.Message.Length == datagram.Length, datagram, "message is not the datagram");
        _ = message.Method;
        _ = message.Class;
        _ = message.TransactionId;
        Check(StunMessageType.Encode(message.Method, message.Class) == message.MessageType, datagram, "type does not round-trip");
        int end = message.AttributesEnd;
        Check(end >= StunConstants.HeaderLength && end <= datagram.Length, datagram, "AttributesEnd outside the message");

        int expectedOffset = StunConstants.HeaderLength;
        bool sawMessageIntegrity = false, sawMessageIntegritySha256 = false, sawFingerprint = false;
        foreach (StunAttribute attribute in message)
        {
            Check(attribute.Offset == expectedOffset, datagram, "attributes are not contiguous");
            Check(attribute.Offset + StunConstants.AttributeHeaderLength + StunPadding.Pad4(attribute.Value.Length) <= end,
                datagram, "attribute runs past AttributesEnd");
            expectedOffset = attribute.Offset + StunConstants.AttributeHeaderLength + StunPadding.Pad4(attribute.Value.Length);
            sawMessageIntegrity |= attribute.Offset == message.MessageIntegrityOffset;
            sawMessageIntegritySha256 |= attribute.Offset == message.MessageIntegritySha256Offset;
            sawFingerprint |= attribute.Offset == message.FingerprintOffset;

            _ = StunAddressCodec.TryDecode(attribute.Value, out _);
            _ = StunAddressCodec.TryDecodeXor(attribute.Value, message.TransactionIdBytes, out _);
            _ = StunErrorCodeCodec.TryDecode(attribute.Value, out _, out _);
            _ = message.TryGetAttribute(attribute.KnownType, out _, out _);
            // The verifiers take any offset: at an attribute that is not what they expect they must say no.
            _ = StunIntegrity.VerifyMessageIntegrity(datagram, attribute.Offset, Key);
            _ = StunIntegrity.VerifyMessageIntegritySha256(datagram, attribute.Offset, Key);
            _ = StunIntegrity.VerifyFingerprint(datagram, attribute.Offset);
        }
        Check(expectedOffset == end, datagram, "the walk does not end at AttributesEnd");
        // MESSAGE-INTEGRITY is always among the attributes that count; MESSAGE-INTEGRITY-SHA256 and FINGERPRINT
        // may follow an ignored attribute (RFC 8489 §14.5), so they need only sit on an attribute of their type.
        Check(sawMessageIntegrity == message.HasMessageIntegrity, datagram, "MESSAGE-INTEGRITY offset not on an attribute");
        Check(!message.HasMessageIntegritySha256 || sawMessageIntegritySha256
              || IsAttributeOfType(datagram, message.MessageIntegritySha256Offset, StunAttributeType.MessageIntegritySha256),
            datagram, "MESSAGE-INTEGRITY-SHA256 offset not on an attribute");
        Check(!message.HasFingerprint || sawFingerprint || IsAttributeOfType(datagram, message.FingerprintOffset, StunAttributeType.Fingerprint),
            datagram, "FINGERPRINT offset not on an attribute");

        foreach (StunAttributeType type in AddressTypes)
        {
            if (message.TryGetXorAddress(type, out TransportAddress address))
            {
                Check(address.Family is StunAddressFamily.IPv4 or StunAddressFamily.IPv6, datagram, "decoded an address without a family");
            }
        }
        if (message.TryGetErrorCode(out int code, out ReadOnlySpan<byte> _))
        {
            Check(code is >= 300 and <= 699, datagram, "error code out of range");
        }
        _ = message.TryGetUInt32(StunAttributeType.Lifetime, out _);
        _ = message.HasAttribute(StunAttributeType.Username);

        Span<ushort> unknown = stackalloc ushort[8];
        int count = message.CollectUnknownComprehensionRequired(unknown);
        Check(count is >= 0 and <= 8, datagram, "unknown count out of range");
        for (int i = 0; i < count; i++)
        {
            Check(unknown[i] < 0x8000 && !StunAttributeTypes.IsKnownComprehensionRequired(unknown[i]), datagram, "listed a type that is not unknown");
        }
        _ = message.CollectUnknownComprehensionRequired(Span<ushort>.Empty);

        // With the reader's offsets, -1 included when absent.
        _ = StunIntegrity.VerifyMessageIntegrity(datagram, message.MessageIntegrityOffset, Key);
        _ = StunIntegrity.VerifyMessageIntegrity(datagram, message.MessageIntegrityOffset, ReadOnlySpan<byte>.Empty);
        _ = StunIntegrity.VerifyMessageIntegritySha256(datagram, message.MessageIntegritySha256Offset, Key);
        _ = StunIntegrity.VerifyFingerprint(datagram, message.FingerprintOffset);
        return true;
    }

    private static void ChannelDataRead(ReadOnlySpan<byte> datagram)
    {
        _ = ChannelData.LooksLikeChannelData(datagram);
        if (ChannelData.TryRead(datagram, out ushort channel, out int length))
        {
            Check(ChannelData.IsValidChannelNumber(channel), datagram, "ChannelData with an unbindable channel");
            Check(length >= 0 && ChannelData.HeaderLength + length <= datagram.Length, datagram, "ChannelData longer than the datagram");
        }
    }

    /// <summary>True when a well-formed attribute walk from the header reaches <paramref name="offset"/> and finds <paramref name="type"/> there.</summary>
    private static bool IsAttributeOfType(ReadOnlySpan<byte> datagram, int offset, StunAttributeType type)
    {
        int at = StunConstants.HeaderLength;
        while (at + StunConstants.AttributeHeaderLength <= datagram.Length && at < offset)
        {
            at += StunConstants.AttributeHeaderLength + StunPadding.Pad4(System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(datagram[(at + 2)..]));
        }
        return at == offset && at + StunConstants.AttributeHeaderLength <= datagram.Length
               && System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(datagram[at..]) == (ushort)type;
    }

    private static void Check(bool condition, ReadOnlySpan<byte> datagram, string what)
    {
        if (!condition)
        {
            throw new XunitException($"{what}: input {Hex.Of(datagram)}");
        }
    }
}
