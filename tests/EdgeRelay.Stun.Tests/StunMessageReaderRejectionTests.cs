using System.Buffers.Binary;

namespace EdgeRelay.Stun.Tests;

/// <summary>What the parser refuses (RFC 8489 §6.3) and what it ignores (§14.5-§14.7).</summary>
public class StunMessageReaderRejectionTests
{
    private static readonly byte[] TransactionId = Hex.Bytes("0102030405060708090a0b0c");
    private static readonly byte[] Key = "key"u8.ToArray();

    /// <summary>A Binding request with USERNAME "alice" (5 bytes, 3 of padding) and SOFTWARE "edge": 40 bytes.</summary>
    private static byte[] ValidRequest()
    {
        byte[] buffer = new byte[64];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
        writer.AddString(StunAttributeType.Username, "alice");
        writer.AddString(StunAttributeType.Software, "edge");
        return writer.Written.ToArray();
    }

    /// <summary>A header and whatever attribute bytes are given; the length field says their length.</summary>
    private static byte[] Message(string attributesHex)
    {
        byte[] attributes = Hex.Bytes(attributesHex);
        byte[] message = new byte[StunConstants.HeaderLength + attributes.Length];
        BinaryPrimitives.WriteUInt16BigEndian(message, 0x0001);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), (ushort)attributes.Length);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(4), StunConstants.MagicCookie);
        TransactionId.CopyTo(message, 8);
        attributes.CopyTo(message, StunConstants.HeaderLength);
        return message;
    }

    [Fact]
    public void The_valid_request_these_tests_start_from_parses()
    {
        byte[] message = ValidRequest();
        Assert.Equal(40, message.Length);
        Assert.Equal([(ushort)StunAttributeType.Username, (ushort)StunAttributeType.Software], Parsed.Types(message));
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(Message(""), out StunMessageReader empty));
        Assert.Equal(StunConstants.HeaderLength, empty.AttributesEnd);
        Assert.Empty(Parsed.Attributes(Message("")));
    }

    [Fact]
    public void Fewer_than_20_bytes_are_too_short()
    {
        byte[] message = ValidRequest();
        for (int length = 0; length < StunConstants.HeaderLength; length++)
        {
            Assert.Equal(StunParseError.TooShort, StunMessageReader.TryParse(message.AsSpan(0, length), out _));
        }
    }

    [Theory]
    [InlineData(0x40)]
    [InlineData(0x80)]
    [InlineData(0xC0)]
    public void A_first_byte_with_either_top_bit_set_is_not_STUN(byte topBits)
    {
        byte[] message = ValidRequest();
        message[0] |= topBits;
        Assert.Equal(StunParseError.NotStun, StunMessageReader.TryParse(message, out _));
        Assert.False(StunMessageReader.LooksLikeStun(message));
        Assert.False(StunMessageReader.TryReadHeaderLength(message, out _));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    public void A_bad_magic_cookie_is_refused(int position)
    {
        byte[] message = ValidRequest();
        message[position] ^= 0x01;
        Assert.Equal(StunParseError.BadMagicCookie, StunMessageReader.TryParse(message, out _));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_length_that_is_not_a_multiple_of_4_is_refused(int extra)
    {
        // The header says exactly how many bytes follow, but that count cannot be a whole number of attributes.
        byte[] message = new byte[StunConstants.HeaderLength + 4 + extra];
        ValidRequest().AsSpan(0, StunConstants.HeaderLength).CopyTo(message);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), (ushort)(4 + extra));
        Assert.Equal(StunParseError.BadLength, StunMessageReader.TryParse(message, out _));
    }

    [Theory]
    [InlineData(-8)]
    [InlineData(-4)]
    [InlineData(4)]
    [InlineData(0x100)]
    public void A_length_field_that_disagrees_with_the_datagram_is_refused(int delta)
    {
        byte[] message = ValidRequest();
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), (ushort)(message.Length - StunConstants.HeaderLength + delta));
        Assert.Equal(StunParseError.BadLength, StunMessageReader.TryParse(message, out _));
    }

    [Fact]
    public void Trailing_bytes_after_the_announced_length_are_refused()
    {
        byte[] message = [.. ValidRequest(), 0, 0, 0, 0];
        Assert.Equal(StunParseError.BadLength, StunMessageReader.TryParse(message, out _));
        Assert.True(StunMessageReader.TryReadHeaderLength(message, out int length));
        Assert.Equal(20, length); // what a stream framer would cut
    }

    [Theory]
    [InlineData("0006 0008 61626364")] // 8 announced, 4 present
    [InlineData("0006 0005 61626364")] // 5 announced: the padded value needs 8
    [InlineData("0006 0004 61626364 0006 0001")] // second attribute: 1 announced, its padding missing
    [InlineData("0006 ffff 61626364")]
    [InlineData("8022 0004 61626364 8022 0008 61626364")]
    public void An_attribute_running_past_the_end_is_refused(string attributes)
    {
        Assert.Equal(StunParseError.BadAttribute, StunMessageReader.TryParse(Message(attributes), out _));
    }

    [Fact]
    public void An_attribute_running_past_the_end_is_refused_even_after_FINGERPRINT()
    {
        // Attributes after FINGERPRINT are ignored, but the message must still be well formed.
        byte[] message = Message("8028 0004 00000000 0006 0008 61626364");
        Assert.Equal(StunParseError.BadAttribute, StunMessageReader.TryParse(message, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(19)]
    [InlineData(21)]
    [InlineData(32)]
    public void MESSAGE_INTEGRITY_of_any_length_but_20_is_refused(int length)
    {
        Assert.Equal(StunParseError.BadAttribute, StunMessageReader.TryParse(WithAttributeOfLength(StunAttributeType.MessageIntegrity, length), out _));
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(12, false)]
    [InlineData(16, true)]
    [InlineData(18, false)]
    [InlineData(20, true)]
    [InlineData(24, true)]
    [InlineData(28, true)]
    [InlineData(30, false)]
    [InlineData(32, true)]
    [InlineData(36, false)]
    [InlineData(64, false)]
    public void MESSAGE_INTEGRITY_SHA256_must_be_16_to_32_bytes_in_steps_of_4(int length, bool valid)
    {
        byte[] message = WithAttributeOfLength(StunAttributeType.MessageIntegritySha256, length);
        Assert.Equal(valid ? StunParseError.None : StunParseError.BadAttribute, StunMessageReader.TryParse(message, out StunMessageReader reader));
        if (valid)
        {
            Assert.Equal(StunConstants.HeaderLength, reader.MessageIntegritySha256Offset);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(8)]
    public void FINGERPRINT_of_any_length_but_4_is_refused(int length)
    {
        Assert.Equal(StunParseError.BadAttribute, StunMessageReader.TryParse(WithAttributeOfLength(StunAttributeType.Fingerprint, length), out _));
    }

    private static byte[] WithAttributeOfLength(StunAttributeType type, int length)
    {
        byte[] buffer = new byte[128];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
        writer.AddAttribute(type, length).Fill(0x5A);
        return writer.Written.ToArray();
    }

    [Fact]
    public void Attributes_after_MESSAGE_INTEGRITY_are_ignored()
    {
        byte[] buffer = new byte[128];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
        writer.AddString(StunAttributeType.Username, "alice");
        writer.AddMessageIntegrity(Key);
        int ignored = writer.Length;
        writer.AddString(StunAttributeType.Software, "after");
        writer.AddUInt32(StunAttributeType.Lifetime, 600);
        byte[] message = writer.Written.ToArray();

        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.Equal(ignored, reader.AttributesEnd);
        Assert.Equal([(ushort)StunAttributeType.Username, (ushort)StunAttributeType.MessageIntegrity], Parsed.Types(message));
        Assert.False(reader.HasAttribute(StunAttributeType.Software));
        Assert.False(reader.TryGetUInt32(StunAttributeType.Lifetime, out _));
        Assert.True(StunIntegrity.VerifyMessageIntegrity(message, reader.MessageIntegrityOffset, Key));
    }

    [Fact]
    public void MESSAGE_INTEGRITY_SHA256_and_FINGERPRINT_after_MESSAGE_INTEGRITY_count()
    {
        byte[] buffer = new byte[160];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
        writer.AddString(StunAttributeType.Username, "alice");
        int messageIntegrity = writer.Length;
        writer.AddMessageIntegrity(Key);
        int messageIntegritySha256 = writer.Length;
        writer.AddMessageIntegritySha256(Key);
        int fingerprint = writer.Length;
        writer.AddFingerprint();
        int end = writer.Length;
        writer.AddString(StunAttributeType.Realm, "ignored");
        byte[] message = writer.Written.ToArray();

        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.Equal(messageIntegrity, reader.MessageIntegrityOffset);
        Assert.Equal(messageIntegritySha256, reader.MessageIntegritySha256Offset);
        Assert.Equal(fingerprint, reader.FingerprintOffset);
        Assert.Equal(end, reader.AttributesEnd);
        Assert.Equal(
            [(ushort)StunAttributeType.Username, (ushort)StunAttributeType.MessageIntegrity,
             (ushort)StunAttributeType.MessageIntegritySha256, (ushort)StunAttributeType.Fingerprint],
            Parsed.Types(message));
        Assert.False(reader.HasAttribute(StunAttributeType.Realm));

        // The fingerprint covers what precedes it; the trailing REALM is outside everything.
        Assert.True(StunIntegrity.VerifyMessageIntegrity(message, reader.MessageIntegrityOffset, Key));
        Assert.True(StunIntegrity.VerifyMessageIntegritySha256(message, reader.MessageIntegritySha256Offset, Key));
        Assert.True(StunIntegrity.VerifyFingerprint(message, reader.FingerprintOffset));
    }

    [Fact]
    public void Attributes_after_MESSAGE_INTEGRITY_SHA256_are_ignored_MESSAGE_INTEGRITY_included()
    {
        byte[] buffer = new byte[160];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
        writer.AddString(StunAttributeType.Username, "alice");
        writer.AddMessageIntegritySha256(Key);
        int ignored = writer.Length;
        writer.AddMessageIntegrity(Key);
        writer.AddString(StunAttributeType.Software, "after");
        byte[] message = writer.Written.ToArray();

        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.False(reader.HasMessageIntegrity);
        Assert.True(reader.HasMessageIntegritySha256);
        Assert.Equal(ignored, reader.AttributesEnd);
        Assert.Equal([(ushort)StunAttributeType.Username, (ushort)StunAttributeType.MessageIntegritySha256], Parsed.Types(message));
    }

    [Fact]
    public void Attributes_after_FINGERPRINT_are_ignored_integrity_included()
    {
        byte[] buffer = new byte[160];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
        writer.AddString(StunAttributeType.Username, "alice");
        writer.AddFingerprint();
        int end = writer.Length;
        writer.AddMessageIntegrity(Key);
        writer.AddString(StunAttributeType.Software, "after");
        writer.AddFingerprint();
        byte[] message = writer.Written.ToArray();

        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.Equal(end, reader.AttributesEnd);
        Assert.Equal(end - 8, reader.FingerprintOffset);
        Assert.False(reader.HasMessageIntegrity);
        Assert.False(reader.HasAttribute(StunAttributeType.Software));
        Assert.Equal([(ushort)StunAttributeType.Username, (ushort)StunAttributeType.Fingerprint], Parsed.Types(message));
        // The first FINGERPRINT was computed when it ended the message, so it is valid on its own terms.
        Assert.True(StunIntegrity.VerifyFingerprint(message, reader.FingerprintOffset));
    }

    [Fact]
    public void Malformed_integrity_attributes_after_FINGERPRINT_are_ignored_not_refused()
    {
        byte[] message = Message("8028 0004 00000000 0008 0004 00000000 001c 0000 8028 0000");
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.Equal(28, reader.AttributesEnd);
        Assert.False(reader.HasMessageIntegrity);
        Assert.False(reader.HasMessageIntegritySha256);
        Assert.Equal(20, reader.FingerprintOffset);
    }

    [Fact]
    public void A_second_MESSAGE_INTEGRITY_is_ignored_and_the_first_counts()
    {
        byte[] buffer = new byte[128];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
        writer.AddString(StunAttributeType.Username, "alice");
        int first = writer.Length;
        writer.AddMessageIntegrity(Key);
        int second = writer.Length;
        writer.AddMessageIntegrity("other"u8);
        byte[] message = writer.Written.ToArray();

        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.Equal(first, reader.MessageIntegrityOffset);
        Assert.Equal(second, reader.AttributesEnd);
        Assert.True(Parsed.AcceptsMessageIntegrity(message, Key));
        Assert.False(Parsed.AcceptsMessageIntegrity(message, "other"u8));
    }

    [Fact]
    public void Of_repeated_attributes_the_first_is_returned()
    {
        // RFC 8489 §14: only the first occurrence of an attribute needs to be processed.
        byte[] message = Message("000d 0004 00000258 000d 0004 00000e10");
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.True(reader.TryGetUInt32(StunAttributeType.Lifetime, out uint lifetime));
        Assert.Equal(600u, lifetime);
        Assert.True(reader.TryGetAttribute(StunAttributeType.Lifetime, out _, out int valueOffset));
        Assert.Equal(24, valueOffset);
        Assert.Equal(2, Parsed.Types(message).Count);
    }

    [Fact]
    public void A_32_bit_attribute_of_another_length_is_not_read_as_one()
    {
        byte[] message = Message("000d 0008 00000258 00000000");
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.False(reader.TryGetUInt32(StunAttributeType.Lifetime, out _));
    }
}
