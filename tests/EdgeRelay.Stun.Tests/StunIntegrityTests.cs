using System.Buffers.Binary;
using System.Security.Cryptography;

namespace EdgeRelay.Stun.Tests;

/// <summary>MESSAGE-INTEGRITY (RFC 8489 §14.5), MESSAGE-INTEGRITY-SHA256 (§14.6) and FINGERPRINT (§14.7).</summary>
public class StunIntegrityTests
{
    private static readonly byte[] TransactionId = Hex.Bytes("0102030405060708090a0b0c");
    private static readonly byte[] Key = "a key"u8.ToArray();

    /// <summary>A header and the given attribute bytes, with the length field saying their length.</summary>
    private static byte[] Message(string attributesHex)
    {
        byte[] attributes = Hex.Bytes(attributesHex);
        byte[] buffer = new byte[StunConstants.HeaderLength + attributes.Length];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
        attributes.CopyTo(buffer, StunConstants.HeaderLength);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(2), (ushort)attributes.Length);
        Assert.Equal(StunConstants.HeaderLength, writer.Length);
        return buffer;
    }

    [Fact]
    public void MESSAGE_INTEGRITY_is_HMAC_SHA1_over_the_message_with_the_length_ending_at_the_attribute()
    {
        byte[] buffer = new byte[128];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
        writer.AddString(StunAttributeType.Username, "alice");
        writer.AddMessageIntegrity(Key);
        writer.AddFingerprint();
        byte[] message = writer.Written.ToArray();

        // Recompute independently: the first 32 bytes, with the length field as 12 + 24.
        byte[] covered = message.AsSpan(0, 32).ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(covered.AsSpan(2), 12 + 24);
        Assert.Equal(HMACSHA1.HashData(Key, covered), message.AsSpan(36, 20).ToArray());
        Assert.True(Parsed.AcceptsMessageIntegrity(message, Key));
        Assert.True(Parsed.AcceptsFingerprint(message));
    }

    [Fact]
    public void MESSAGE_INTEGRITY_SHA256_is_HMAC_SHA256_over_the_message_with_the_length_ending_at_the_attribute()
    {
        byte[] buffer = new byte[128];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
        writer.AddString(StunAttributeType.Username, "alice");
        writer.AddMessageIntegritySha256(Key);
        byte[] message = writer.Written.ToArray();

        byte[] covered = message.AsSpan(0, 32).ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(covered.AsSpan(2), 12 + 36);
        Assert.Equal(HMACSHA256.HashData(Key, covered), message.AsSpan(36, 32).ToArray());
        Assert.True(Parsed.AcceptsMessageIntegritySha256(message, Key));
    }

    [Theory]
    [InlineData(16)]
    [InlineData(20)]
    [InlineData(28)]
    public void A_truncated_MESSAGE_INTEGRITY_SHA256_verifies_on_its_length(int length)
    {
        // RFC 8489 §14.6: the value may be truncated to 16 bytes or more, in steps of 4.
        byte[] message = Message("0006 0005 616c696365000000" + "001c" + length.ToString("x4") + new string('0', 2 * length));
        byte[] covered = message.AsSpan(0, 32).ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(covered.AsSpan(2), (ushort)(12 + 4 + length));
        HMACSHA256.HashData(Key, covered).AsSpan(0, length).CopyTo(message.AsSpan(36));

        Assert.True(Parsed.AcceptsMessageIntegritySha256(message, Key));
        message[^1] ^= 1;
        Assert.False(Parsed.AcceptsMessageIntegritySha256(message, Key));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(12)]
    [InlineData(18)]
    public void VerifyMessageIntegritySha256_refuses_a_value_shorter_than_16_bytes(int length)
    {
        // The value holds the first bytes of the right HMAC: only its length is wrong. An empty value
        // would otherwise "match" any key.
        byte[] message = Message("0006 0005 616c696365000000" + "001c" + length.ToString("x4") + new string('0', 2 * StunPadding.Pad4(length)));
        byte[] covered = message.AsSpan(0, 32).ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(covered.AsSpan(2), (ushort)(12 + 4 + length));
        HMACSHA256.HashData(Key, covered).AsSpan(0, length).CopyTo(message.AsSpan(36));

        Assert.False(StunIntegrity.VerifyMessageIntegritySha256(message, 32, Key));
    }

    [Theory]
    [InlineData(36)]
    [InlineData(40)]
    [InlineData(64)]
    public void VerifyMessageIntegritySha256_refuses_a_value_longer_than_32_bytes_without_throwing(int length)
    {
        byte[] message = Message("0006 0005 616c696365000000" + "001c" + length.ToString("x4") + new string('0', 2 * length));
        Assert.False(StunIntegrity.VerifyMessageIntegritySha256(message, 32, Key));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(32)]
    public void VerifyMessageIntegrity_refuses_a_value_that_is_not_20_bytes(int length)
    {
        byte[] message = Message("0006 0005 616c696365000000" + "0008" + length.ToString("x4") + new string('0', 2 * length));
        byte[] covered = message.AsSpan(0, 32).ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(covered.AsSpan(2), (ushort)(12 + 4 + length));
        HMACSHA1.HashData(Key, covered).AsSpan(0, Math.Min(length, 20)).CopyTo(message.AsSpan(36));
        Assert.False(StunIntegrity.VerifyMessageIntegrity(message, 32, Key));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(19)]
    [InlineData(37)]
    [InlineData(1000)]
    [InlineData(int.MaxValue)]
    public void Verifiers_refuse_offsets_outside_the_message(int offset)
    {
        byte[] buffer = new byte[128];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
        writer.AddMessageIntegrity(Key);
        writer.AddFingerprint();
        byte[] message = writer.Written.ToArray(); // 20 + 24 + 8 = 52

        Assert.False(StunIntegrity.VerifyMessageIntegrity(message, offset, Key));
        Assert.False(StunIntegrity.VerifyMessageIntegritySha256(message, offset, Key));
        Assert.False(StunIntegrity.VerifyFingerprint(message, offset));
    }

    [Fact]
    public void Integrity_of_a_message_longer_than_the_stack_copy_verifies()
    {
        // Above 1024 covered bytes the verifier rents its copy instead of using the stack.
        byte[] buffer = new byte[2048];
        var writer = new StunMessageWriter(buffer, StunMethod.Send, StunClass.Indication, TransactionId);
        new Random(7).NextBytes(writer.AddAttribute(StunAttributeType.Data, 1500));
        writer.AddMessageIntegrity(Key);
        writer.AddMessageIntegritySha256(Key);
        writer.AddFingerprint();
        byte[] message = writer.Written.ToArray();

        Assert.True(Parsed.AcceptsMessageIntegrity(message, Key));
        Assert.True(Parsed.AcceptsMessageIntegritySha256(message, Key));
        Assert.True(Parsed.AcceptsFingerprint(message));
        message[700] ^= 1;
        Assert.False(Parsed.AcceptsMessageIntegrity(message, Key));
        Assert.False(Parsed.AcceptsMessageIntegritySha256(message, Key));
        Assert.False(Parsed.AcceptsFingerprint(message));
    }

    [Fact]
    public void FINGERPRINT_is_CRC32_XOR_0x5354554E_over_the_message_with_the_length_ending_at_it()
    {
        var random = new Random(99);
        for (int i = 0; i < 500; i++)
        {
            byte[] buffer = new byte[700];
            var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
            random.NextBytes(writer.AddAttribute(StunAttributeType.Data, random.Next(0, 600)));
            int covered = writer.Length;
            writer.AddFingerprint();

            byte[] copy = buffer.AsSpan(0, covered).ToArray();
            BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(2), (ushort)(covered + 8 - 20));
            uint expected = ReferenceCrc32(copy) ^ 0x5354554E;
            Assert.Equal(expected, BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(covered + 4)));
            Assert.Equal(expected, StunIntegrity.ComputeFingerprint(buffer.AsSpan(0, covered), covered + 8 - 20));
        }
    }

    [Fact]
    public void The_reference_CRC32_has_the_standard_check_value()
    {
        Assert.Equal(0xCBF43926u, ReferenceCrc32("123456789"u8));
    }

    /// <summary>Bit-at-a-time CRC-32 (ISO-HDLC, reflected 0xEDB88320), independent of the table-driven one.</summary>
    private static uint ReferenceCrc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
            }
        }
        return ~crc;
    }
}
