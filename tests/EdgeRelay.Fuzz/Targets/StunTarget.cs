using System.Buffers.Binary;
using EdgeRelay.Fuzz.Harness;
using EdgeRelay.Stun;

namespace EdgeRelay.Fuzz.Targets;

/// <summary>
/// The STUN codec (RFC 8489): <see cref="StunMessageReader.TryParse"/> on any bytes, then every accessor
/// the core uses on what parsed, the integrity and fingerprint checks, and a re-encoding of what decoded.
/// </summary>
public static class StunTarget
{
    private static readonly byte[] Md5Key = LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, "alice", "edgerelay.test", "correct horse battery staple");
    private static readonly byte[] Sha256Key = LongTermCredential.DeriveKey(PasswordAlgorithm.Sha256, "alice", "edgerelay.test", "correct horse battery staple");

    private static readonly StunAttributeType[] AddressAttributes =
    [
        StunAttributeType.XorMappedAddress, StunAttributeType.XorPeerAddress, StunAttributeType.XorRelayedAddress,
    ];

    public static void Run(ReadOnlySpan<byte> input)
    {
        bool looksLikeStun = StunMessageReader.LooksLikeStun(input);
        if (StunMessageReader.TryReadHeaderLength(input, out int headerLength))
        {
            FuzzInvariantException.Check(looksLikeStun && headerLength <= ushort.MaxValue, "header length read from something that is not STUN");
        }
        StunParseError error = StunMessageReader.TryParse(input, out StunMessageReader message);
        if (error != StunParseError.None)
        {
            return;
        }
        FuzzInvariantException.Check(looksLikeStun && !ChannelData.LooksLikeChannelData(input), "parsed STUN that demultiplexes as ChannelData");
        FuzzInvariantException.Check(headerLength + StunConstants.HeaderLength == input.Length, "header length disagrees with the parsed message");
        FuzzInvariantException.Check(message.AttributesEnd >= StunConstants.HeaderLength && message.AttributesEnd <= input.Length, "attributes end outside the message");
        CheckOffset(message.MessageIntegrityOffset, input.Length);
        CheckOffset(message.MessageIntegritySha256Offset, input.Length);
        CheckOffset(message.FingerprintOffset, input.Length);
        _ = message.Method;
        _ = message.Class;
        _ = message.TransactionId;

        int previousEnd = StunConstants.HeaderLength;
        foreach (StunAttribute attribute in message)
        {
            // Attributes follow one another, each inside the counted part of the message.
            FuzzInvariantException.Check(attribute.Offset == previousEnd, "attribute walk skipped or overlapped bytes");
            previousEnd = attribute.Offset + StunConstants.AttributeHeaderLength + StunPadding.Pad4(attribute.Value.Length);
            FuzzInvariantException.Check(previousEnd <= message.AttributesEnd, "attribute runs past the counted attributes");
        }

        foreach (StunAttributeType type in AddressAttributes)
        {
            if (message.TryGetXorAddress(type, out TransportAddress address))
            {
                CheckXorRoundTrip(message, type, address);
            }
        }
        if (message.TryGetAttribute(StunAttributeType.MappedAddress, out ReadOnlySpan<byte> mapped))
        {
            _ = StunAddressCodec.TryDecode(mapped, out _);
        }
        if (message.TryGetErrorCode(out int code, out ReadOnlySpan<byte> reason))
        {
            FuzzInvariantException.Check(code is >= 300 and <= 699 && reason.Length <= input.Length, "ERROR-CODE decoded out of range");
        }
        _ = message.TryGetChangeRequest(out _);
        _ = message.TryGetResponsePort(out _);
        _ = message.TryGetUInt32(StunAttributeType.Lifetime, out _);
        _ = message.TryGetUInt32(StunAttributeType.ChannelNumber, out _);
        _ = message.HasAttribute(StunAttributeType.DontFragment);
        Span<ushort> unknown = stackalloc ushort[8];
        int count = message.CollectUnknownComprehensionRequired(unknown);
        FuzzInvariantException.Check(count >= 0 && count <= unknown.Length, "more unknown attributes than room");
        _ = message.CollectUnknownComprehensionRequired(unknown, natBehaviorDiscovery: true);

        // Integrity and fingerprint checks take any offset the caller passes (StunIntegrity.Verify).
        if (message.HasFingerprint)
        {
            _ = StunIntegrity.VerifyFingerprint(input, message.FingerprintOffset);
        }
        if (message.HasMessageIntegrity)
        {
            _ = StunIntegrity.VerifyMessageIntegrity(input, message.MessageIntegrityOffset, Md5Key);
        }
        if (message.HasMessageIntegritySha256)
        {
            _ = StunIntegrity.VerifyMessageIntegritySha256(input, message.MessageIntegritySha256Offset, Sha256Key);
        }
        int anyOffset = input.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(input[^2..]) : 0;
        _ = StunIntegrity.VerifyFingerprint(input, anyOffset);
        _ = StunIntegrity.VerifyMessageIntegrity(input, anyOffset, Md5Key);
        _ = StunIntegrity.VerifyMessageIntegritySha256(input, anyOffset, Sha256Key);
    }

    private static void CheckOffset(int offset, int length) =>
        FuzzInvariantException.Check(offset == -1 || (offset >= StunConstants.HeaderLength && offset + StunConstants.AttributeHeaderLength <= length),
            "integrity or fingerprint offset outside the message");

    /// <summary>What decodes must encode back to an attribute that decodes to the same address.</summary>
    private static void CheckXorRoundTrip(in StunMessageReader message, StunAttributeType type, in TransportAddress address)
    {
        Span<byte> buffer = stackalloc byte[64];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.SuccessResponse, message.TransactionIdBytes);
        writer.AddXorAddress(type, address);
        FuzzInvariantException.Check(StunMessageReader.TryParse(writer.Written, out StunMessageReader written) == StunParseError.None
            && written.TryGetXorAddress(type, out TransportAddress again) && again == address, $"{type} does not survive a re-encoding");
    }
}
