using System.Text;

namespace EdgeRelay.Stun.Tests;

/// <summary>ERROR-CODE, RFC 8489 §14.8: 21 reserved bits, the class (3 bits), the number (8 bits), a reason.</summary>
public class StunErrorCodeCodecTests
{
    [Fact]
    public void Error_438_is_class_4_number_38_with_its_reason_phrase()
    {
        Span<byte> value = stackalloc byte[64];
        int length = StunErrorCodeCodec.Encode(value, 438, "Stale Nonce");
        Assert.Equal(4 + 11, length);
        Assert.Equal("00000426" + Hex.Of("Stale Nonce"u8), Hex.Of(value[..length]));

        Assert.True(StunErrorCodeCodec.TryDecode(value[..length], out int code, out ReadOnlySpan<byte> reason));
        Assert.Equal(438, code);
        Assert.Equal("Stale Nonce", Encoding.UTF8.GetString(reason));
    }

    [Fact]
    public void Every_code_from_300_to_699_round_trips()
    {
        Span<byte> value = stackalloc byte[64];
        for (int expected = 300; expected <= 699; expected++)
        {
            int length = StunErrorCodeCodec.Encode(value, expected, "r");
            Assert.Equal(expected / 100, value[2]);
            Assert.Equal(expected % 100, value[3]);
            Assert.True(StunErrorCodeCodec.TryDecode(value[..length], out int code, out ReadOnlySpan<byte> reason));
            Assert.Equal(expected, code);
            Assert.Equal("r"u8.ToArray(), reason.ToArray());
        }
    }

    [Theory]
    [InlineData("00000226")] // class 2
    [InlineData("00000026")] // class 0
    [InlineData("00000726")] // class 7
    [InlineData("00000464")] // number 100
    [InlineData("000004ff")] // number 255
    [InlineData("000004")] // too short
    [InlineData("")]
    public void Values_outside_the_code_space_are_refused(string hex)
    {
        Assert.False(StunErrorCodeCodec.TryDecode(Hex.Bytes(hex), out _, out _));
    }

    [Fact]
    public void Reserved_bits_are_ignored()
    {
        // RFC 8489 §14.8: the reserved bits SHOULD be 0 and receivers MUST ignore them.
        Assert.True(StunErrorCodeCodec.TryDecode(Hex.Bytes("fffffc26"), out int code, out ReadOnlySpan<byte> reason));
        Assert.Equal(438, code);
        Assert.True(reason.IsEmpty);
    }

    [Fact]
    public void The_writer_adds_the_RFC_reason_phrase_and_the_reader_finds_it()
    {
        byte[] buffer = new byte[128];
        var writer = new StunMessageWriter(buffer, StunMethod.Allocate, StunClass.ErrorResponse, TestVectors.Rfc5769TransactionId);
        writer.AddErrorCode(StunErrorCode.StaleNonce);
        Assert.Equal(20 + 4 + 16, writer.Length); // 4 + "Stale Nonce" = 15, padded to 16

        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(writer.Written, out StunMessageReader reader));
        Assert.Equal((ushort)0x0113, reader.MessageType);
        Assert.True(reader.TryGetErrorCode(out int code, out ReadOnlySpan<byte> reason));
        Assert.Equal(438, code);
        Assert.Equal("Stale Nonce", Encoding.UTF8.GetString(reason));
    }

    [Fact]
    public void A_custom_reason_is_written_as_UTF8()
    {
        byte[] buffer = new byte[128];
        var writer = new StunMessageWriter(buffer, StunMethod.Refresh, StunClass.ErrorResponse, TestVectors.Rfc5769TransactionId);
        writer.AddErrorCode(437, "Allocation Mismatch \u2013 try again");
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(writer.Written, out StunMessageReader reader));
        Assert.True(reader.TryGetErrorCode(out int code, out ReadOnlySpan<byte> reason));
        Assert.Equal(437, code);
        Assert.Equal("Allocation Mismatch \u2013 try again", Encoding.UTF8.GetString(reason));
    }

    [Fact]
    public void A_message_without_ERROR_CODE_has_no_error_code()
    {
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(TestVectors.Rfc5769IPv4Response, out StunMessageReader reader));
        Assert.False(reader.TryGetErrorCode(out int code, out _));
        Assert.Equal(0, code);
    }

    [Theory]
    [InlineData(300, "Try Alternate")]
    [InlineData(400, "Bad Request")]
    [InlineData(401, "Unauthenticated")]
    [InlineData(403, "Forbidden")]
    [InlineData(420, "Unknown Attribute")]
    [InlineData(437, "Allocation Mismatch")]
    [InlineData(438, "Stale Nonce")]
    [InlineData(440, "Address Family not Supported")]
    [InlineData(441, "Wrong Credentials")]
    [InlineData(442, "Unsupported Transport Protocol")]
    [InlineData(443, "Peer Address Family Mismatch")]
    [InlineData(486, "Allocation Quota Reached")]
    [InlineData(500, "Server Error")]
    [InlineData(508, "Insufficient Capacity")]
    public void Reason_phrases_are_the_RFCs(int code, string phrase)
    {
        Assert.Equal(phrase, StunErrorCode.GetReasonPhrase(code));
    }
}
