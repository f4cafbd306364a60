using System.Buffers.Binary;

namespace EdgeRelay.Stun.Tests;

public class StunMessageWriterTests
{
    private static readonly byte[] TransactionId = Hex.Bytes("0102030405060708090a0b0c");

    [Fact]
    public void Header_carries_type_cookie_transaction_ID_and_a_current_length()
    {
        byte[] buffer = new byte[64];
        var writer = new StunMessageWriter(buffer, StunMethod.Allocate, StunClass.Request, TransactionId);
        Assert.Equal("00030000" + "2112a442" + "0102030405060708090a0b0c", Hex.Of(writer.Written));

        writer.AddUInt32(StunAttributeType.Lifetime, 600);
        Assert.Equal(28, writer.Length);
        Assert.Equal(8, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(2)));
        writer.AddString(StunAttributeType.Software, "abcde");
        Assert.Equal(40, writer.Length);
        Assert.Equal(20, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(2)));
        Assert.Equal("000d0004" + "00000258" + "80220005" + "6162636465000000", Hex.Of(writer.Written[20..]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Padding_is_zeroed_even_in_a_dirty_buffer(int valueLength)
    {
        byte[] buffer = new byte[64];
        buffer.AsSpan().Fill(0xAA);
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
        Span<byte> value = writer.AddAttribute(StunAttributeType.Data, valueLength);
        Assert.Equal(valueLength, value.Length);
        Assert.Equal(20 + 4 + StunPadding.Pad4(valueLength), writer.Length);
        Assert.True(buffer.AsSpan(24 + valueLength, StunPadding.Pad4(valueLength) - valueLength).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(buffer.AsSpan(writer.Length).IndexOfAnyExcept((byte)0xAA) < 0, "wrote past the message");
    }

    [Fact]
    public void A_buffer_too_small_for_the_header_or_an_attribute_throws()
    {
        Assert.Throws<ArgumentException>(() => new StunMessageWriter(new byte[19], StunMethod.Binding, StunClass.Request, TransactionId));
        Assert.Throws<ArgumentException>(() =>
        {
            var writer = new StunMessageWriter(new byte[27], StunMethod.Binding, StunClass.Request, TransactionId);
            writer.AddUInt32(StunAttributeType.Lifetime, 1);
        });
        Assert.Throws<ArgumentException>(() =>
        {
            // 5 bytes need 8 with padding.
            var writer = new StunMessageWriter(new byte[31], StunMethod.Binding, StunClass.Request, TransactionId);
            writer.AddAttribute(StunAttributeType.Data, 5);
        });
    }

    [Fact]
    public void The_largest_message_the_length_field_can_describe_is_written_and_parses()
    {
        // 65532 is the largest multiple of 4 the 16-bit length field holds: one attribute of 65528 bytes.
        byte[] buffer = new byte[StunConstants.HeaderLength + 65536 + 8];
        var writer = new StunMessageWriter(buffer, StunMethod.Send, StunClass.Indication, TransactionId);
        writer.AddAttribute(StunAttributeType.Data, 65528).Fill(0x11);
        Assert.Equal(StunConstants.HeaderLength + 65532, writer.Length);
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(writer.Written, out StunMessageReader reader));
        Assert.True(reader.TryGetAttribute(StunAttributeType.Data, out ReadOnlySpan<byte> data));
        Assert.Equal(65528, data.Length);
    }

    [Theory]
    [InlineData(65529)]
    [InlineData(65535)]
    public void An_attribute_that_would_overflow_the_16_bit_message_length_throws(int valueLength)
    {
        // Without the check the length field wraps and the message on the wire is corrupt.
        byte[] buffer = new byte[StunConstants.HeaderLength + 65536 + 8];
        Assert.Throws<ArgumentException>(() =>
        {
            var writer = new StunMessageWriter(buffer, StunMethod.Send, StunClass.Indication, TransactionId);
            writer.AddAttribute(StunAttributeType.Data, valueLength);
        });
    }

    [Fact]
    public void Attributes_that_together_overflow_the_16_bit_message_length_throw()
    {
        byte[] buffer = new byte[StunConstants.HeaderLength + 65536 + 64];
        Assert.Throws<ArgumentException>(() =>
        {
            var writer = new StunMessageWriter(buffer, StunMethod.Data, StunClass.Indication, TransactionId);
            writer.AddXorAddress(StunAttributeType.XorPeerAddress,
                TransportAddress.FromIPAddress(System.Net.IPAddress.Parse("2001:db8::1"), 9)); // 24 bytes
            writer.AddAttribute(StunAttributeType.Data, 65527); // 65532 more: 65556 > 65535
        });
    }

    [Fact]
    public void Strings_are_written_as_UTF8()
    {
        byte[] buffer = new byte[64];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
        writer.AddString(StunAttributeType.Realm, "\u00e9t\u00e9");
        Assert.Equal("00140005" + "c3a974c3a9" + "000000", Hex.Of(writer.Written[20..]));
    }

    [Fact]
    public void FINGERPRINT_added_last_covers_the_integrity_attributes()
    {
        byte[] buffer = new byte[160];
        var writer = new StunMessageWriter(buffer, StunMethod.Refresh, StunClass.Request, TransactionId);
        writer.AddUInt32(StunAttributeType.Lifetime, 0);
        writer.AddMessageIntegrity("k"u8);
        writer.AddMessageIntegritySha256("k"u8);
        writer.AddFingerprint();
        byte[] message = writer.Written.ToArray();

        Assert.Equal(20 + 8 + 24 + 36 + 8, message.Length);
        Assert.True(Parsed.AcceptsMessageIntegrity(message, "k"u8));
        Assert.True(Parsed.AcceptsMessageIntegritySha256(message, "k"u8));
        Assert.True(Parsed.AcceptsFingerprint(message));
        message[50] ^= 1; // inside the MESSAGE-INTEGRITY value
        Assert.False(Parsed.AcceptsFingerprint(message));
        Assert.False(Parsed.AcceptsMessageIntegrity(message, "k"u8));
        Assert.False(Parsed.AcceptsMessageIntegritySha256(message, "k"u8));
    }
}
