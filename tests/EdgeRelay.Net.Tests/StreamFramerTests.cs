using EdgeRelay.Net.Streams;
using EdgeRelay.Stun;

namespace EdgeRelay.Net.Tests;

public sealed class StreamFramerTests
{
    private static byte[] Binding(int attributeBytes)
    {
        var buffer = new byte[StunConstants.HeaderLength + attributeBytes];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, new byte[12]);
        if (attributeBytes > 0)
        {
            writer.AddAttribute(StunAttributeType.Software, attributeBytes - 4);
        }
        return buffer[..writer.Length];
    }

    [Fact]
    public void A_stun_message_is_its_header_plus_its_length()
    {
        byte[] message = Binding(12);
        Assert.Equal(FrameStatus.Complete, StreamFramer.TryGetFrame(message, out int frame, out int length));
        Assert.Equal((32, 32), (frame, length));
        for (int cut = 0; cut < message.Length; cut++)
        {
            Assert.Equal(FrameStatus.Incomplete, StreamFramer.TryGetFrame(message.AsSpan(0, cut), out _, out _));
        }
    }

    [Fact]
    public void Channel_data_on_a_stream_is_padded_to_four_bytes_and_the_padding_is_not_handed_on()
    {
        byte[] frame = [0x40, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0, 0x40];
        Assert.Equal(FrameStatus.Complete, StreamFramer.TryGetFrame(frame, out int frameLength, out int messageLength));
        Assert.Equal(12, frameLength);
        Assert.Equal(9, messageLength);
        Assert.Equal(FrameStatus.Incomplete, StreamFramer.TryGetFrame(frame.AsSpan(0, 11), out frameLength, out _));
        Assert.Equal(12, frameLength);
    }

    [Theory]
    [InlineData("80600001")]                   // RTP
    [InlineData("C0000000")]                   // top bits 0b11
    [InlineData("00010002")]                   // STUN length not a multiple of 4
    [InlineData("160301 00a0010000 9c0303")]   // TLS ClientHello: no magic cookie
    public void Anything_else_is_a_protocol_error(string hex)
    {
        byte[] bytes = Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
        Assert.Equal(FrameStatus.Invalid, StreamFramer.TryGetFrame(bytes, out _, out _));
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var random = new Random(8656);
        var buffer = new byte[64];
        for (int i = 0; i < 20_000; i++)
        {
            random.NextBytes(buffer);
            FrameStatus status = StreamFramer.TryGetFrame(buffer.AsSpan(0, random.Next(buffer.Length)), out int frame, out int message);
            Assert.True(status != FrameStatus.Complete || (frame >= message && message >= 4 && frame <= StreamFramer.MaxFrameLength));
        }
    }
}
