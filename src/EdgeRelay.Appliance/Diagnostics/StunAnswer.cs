using EdgeRelay.Stun;

namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>
/// What the probe keeps of a response (copied out of the datagram, so it lives across awaits): its class,
/// error code and reason, the challenge attributes and the addresses of RFC 8489 and RFC 8656.
/// </summary>
internal sealed class StunAnswer
{
    public StunClass Class { get; private init; }
    public int ErrorCode { get; private init; }
    public string ReasonText { get; private init; } = string.Empty;
    public byte[]? Realm { get; private init; }
    public byte[]? Nonce { get; private init; }
    public byte[]? PasswordAlgorithms { get; private init; }
    public TransportAddress? XorMappedAddress { get; private init; }
    public TransportAddress? XorRelayedAddress { get; private init; }
    public uint? Lifetime { get; private init; }
    public string? Software { get; private init; }
    public TransportAddress? AlternateServer { get; private init; }

    /// <summary>RFC 5780 §7.3: the address and port the server sent the response from.</summary>
    public TransportAddress? ResponseOrigin { get; private init; }

    /// <summary>RFC 5780 §7.4: the server's other address and port, for the mapping and filtering tests.</summary>
    public TransportAddress? OtherAddress { get; private init; }

    /// <summary>
    /// True when <paramref name="message"/> is the response to <paramref name="transactionId"/>: a STUN
    /// response whose FINGERPRINT (when present) is right, and, for a request that was signed, whose
    /// MESSAGE-INTEGRITY(-SHA256) (when present) verifies with <paramref name="key"/> (RFC 8489 §9.2.5:
    /// a response that fails the check is discarded as if never received).
    /// <paramref name="relevant"/> says the message looked like STUN but was refused, for the count of
    /// what was ignored.
    /// </summary>
    public static bool TryRead(byte[] message, ReadOnlySpan<byte> transactionId, byte[]? key, out StunAnswer? answer, out bool relevant)
    {
        answer = null;
        relevant = StunMessageReader.LooksLikeStun(message);
        if (StunMessageReader.TryParse(message, out StunMessageReader reader) != StunParseError.None)
        {
            return false;
        }
        if (reader.Class is not (StunClass.SuccessResponse or StunClass.ErrorResponse) || !reader.TransactionIdBytes.SequenceEqual(transactionId))
        {
            // Indications and answers to earlier retransmissions are not refusals of anything.
            relevant = false;
            return false;
        }
        if (reader.HasFingerprint && !StunIntegrity.VerifyFingerprint(message, reader.FingerprintOffset))
        {
            return false;
        }
        if (key is not null)
        {
            if (reader.HasMessageIntegritySha256
                ? !StunIntegrity.VerifyMessageIntegritySha256(message, reader.MessageIntegritySha256Offset, key)
                : reader.HasMessageIntegrity && !StunIntegrity.VerifyMessageIntegrity(message, reader.MessageIntegrityOffset, key))
            {
                return false;
            }
        }

        int code = 0;
        string reason = string.Empty;
        if (reader.Class == StunClass.ErrorResponse)
        {
            if (!reader.TryGetErrorCode(out code, out ReadOnlySpan<byte> phrase))
            {
                // RFC 8489 §14.8: an error response without a readable ERROR-CODE says nothing; treat it as garbled.
                return false;
            }
            reason = ProbeText.FromServer(phrase);
        }
        answer = new StunAnswer
        {
            Class = reader.Class,
            ErrorCode = code,
            ReasonText = reason.Length > 0 ? reason : StunErrorCode.GetReasonPhrase(code),
            Realm = reader.TryGetAttribute(StunAttributeType.Realm, out ReadOnlySpan<byte> realm) ? realm.ToArray() : null,
            Nonce = reader.TryGetAttribute(StunAttributeType.Nonce, out ReadOnlySpan<byte> nonce) ? nonce.ToArray() : null,
            PasswordAlgorithms = reader.TryGetAttribute(StunAttributeType.PasswordAlgorithms, out ReadOnlySpan<byte> algorithms) ? algorithms.ToArray() : null,
            XorMappedAddress = reader.TryGetXorAddress(StunAttributeType.XorMappedAddress, out TransportAddress mapped) ? mapped
                : reader.TryGetAttribute(StunAttributeType.MappedAddress, out ReadOnlySpan<byte> plain) && StunAddressCodec.TryDecode(plain, out TransportAddress old) ? old
                : null,
            XorRelayedAddress = reader.TryGetXorAddress(StunAttributeType.XorRelayedAddress, out TransportAddress relayed) ? relayed : null,
            Lifetime = reader.TryGetUInt32(StunAttributeType.Lifetime, out uint lifetime) ? lifetime : null,
            Software = reader.TryGetAttribute(StunAttributeType.Software, out ReadOnlySpan<byte> software) ? ProbeText.FromServer(software, 60) : null,
            AlternateServer = reader.TryGetAttribute(StunAttributeType.AlternateServer, out ReadOnlySpan<byte> alternate)
                && StunAddressCodec.TryDecode(alternate, out TransportAddress other) ? other : null,
            ResponseOrigin = Address(reader, StunAttributeType.ResponseOrigin),
            OtherAddress = Address(reader, StunAttributeType.OtherAddress),
        };
        return true;
    }

    private static TransportAddress? Address(in StunMessageReader reader, StunAttributeType type) =>
        reader.TryGetAttribute(type, out ReadOnlySpan<byte> value) && StunAddressCodec.TryDecode(value, out TransportAddress address) ? address : null;
}
