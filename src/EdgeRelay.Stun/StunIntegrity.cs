using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace EdgeRelay.Stun;

/// <summary>
/// MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5), MESSAGE-INTEGRITY-SHA256 (§14.6) and FINGERPRINT
/// (§14.7). Each covers the message up to the attribute, with the header's length field rewritten as if
/// the attribute ended the message.
/// </summary>
public static class StunIntegrity
{
    private const int StackCopyLimit = 1024;

    public static bool VerifyMessageIntegrity(ReadOnlySpan<byte> message, int attributeOffset, ReadOnlySpan<byte> key) =>
        Verify(message, attributeOffset, key, sha256: false);

    public static bool VerifyMessageIntegritySha256(ReadOnlySpan<byte> message, int attributeOffset, ReadOnlySpan<byte> key) =>
        Verify(message, attributeOffset, key, sha256: true);

    private static bool Verify(ReadOnlySpan<byte> message, int attributeOffset, ReadOnlySpan<byte> key, bool sha256)
    {
        // Written so that no sum can overflow, whatever offset the caller passes.
        if (attributeOffset < StunConstants.HeaderLength || attributeOffset > message.Length - StunConstants.AttributeHeaderLength)
        {
            return false;
        }
        int valueLength = BinaryPrimitives.ReadUInt16BigEndian(message[(attributeOffset + 2)..]);
        int valueOffset = attributeOffset + StunConstants.AttributeHeaderLength;
        if (valueLength > message.Length - valueOffset)
        {
            return false;
        }
        // RFC 8489 §14.5: MESSAGE-INTEGRITY is 20 bytes. §14.6: MESSAGE-INTEGRITY-SHA256 is 16 to 32 bytes,
        // a multiple of 4; anything shorter would compare too few bytes (none, for an empty value).
        if (sha256
                ? valueLength < 16 || valueLength > StunConstants.MessageIntegritySha256Length || (valueLength & 3) != 0
                : valueLength != StunConstants.MessageIntegrityLength)
        {
            return false;
        }
        ReadOnlySpan<byte> received = message.Slice(valueOffset, valueLength);

        // The covered bytes must be contiguous for the one-shot HMAC; the length field needs a rewrite,
        // so they are copied (requests are small: the stack takes the common case).
        byte[]? rented = null;
        Span<byte> covered = attributeOffset <= StackCopyLimit
            ? stackalloc byte[StackCopyLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(attributeOffset));
        covered = covered[..attributeOffset];
        try
        {
            message[..attributeOffset].CopyTo(covered);
            BinaryPrimitives.WriteUInt16BigEndian(covered[2..],
                (ushort)(valueOffset + valueLength - StunConstants.HeaderLength));
            Span<byte> mac = stackalloc byte[StunConstants.MessageIntegritySha256Length];
            if (sha256)
            {
                HMACSHA256.HashData(key, covered, mac);
                // RFC 8489 §14.6: a truncated value (16 to 32 bytes) is compared on its length.
                return CryptographicOperations.FixedTimeEquals(mac[..valueLength], received);
            }
            HMACSHA1.HashData(key, covered, mac);
            return valueLength == StunConstants.MessageIntegrityLength
                && CryptographicOperations.FixedTimeEquals(mac[..StunConstants.MessageIntegrityLength], received);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    public static bool VerifyFingerprint(ReadOnlySpan<byte> message, int attributeOffset)
    {
        if (attributeOffset < StunConstants.HeaderLength || attributeOffset > message.Length - 8)
        {
            return false;
        }
        uint expected = ComputeFingerprint(message[..attributeOffset], attributeOffset + 8 - StunConstants.HeaderLength);
        return BinaryPrimitives.ReadUInt32BigEndian(message[(attributeOffset + 4)..]) == expected;
    }

    /// <summary>CRC-32 of <paramref name="covered"/> with the header length field set to <paramref name="lengthField"/>.</summary>
    public static uint ComputeFingerprint(ReadOnlySpan<byte> covered, int lengthField)
    {
        Span<byte> header = stackalloc byte[StunConstants.HeaderLength];
        covered[..StunConstants.HeaderLength].CopyTo(header);
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)lengthField);
        uint crc = Crc32.Append(0, header);
        crc = Crc32.Append(crc, covered[StunConstants.HeaderLength..]);
        return crc ^ StunConstants.FingerprintXor;
    }
}
