namespace EdgeRelay.Stun.Tests;

/// <summary>ChannelData, RFC 8656 §12.4 and §12.5.</summary>
public class ChannelDataTests
{
    [Fact]
    public void Header_is_written_and_read_back()
    {
        byte[] datagram = new byte[4 + 5];
        ChannelData.WriteHeader(datagram, 0x4001, 5);
        "hello"u8.CopyTo(datagram.AsSpan(4));
        Assert.Equal("40010005", Hex.Of(datagram.AsSpan(0, 4)));

        Assert.True(ChannelData.TryRead(datagram, out ushort channel, out int length));
        Assert.Equal(0x4001, channel);
        Assert.Equal(5, length);
        Assert.True(ChannelData.LooksLikeChannelData(datagram));
        Assert.False(StunMessageReader.LooksLikeStun(datagram));
    }

    [Theory]
    [InlineData(0x4000, true)]
    [InlineData(0x4001, true)]
    [InlineData(0x4FFF, true)]
    [InlineData(0x3FFF, false)]
    [InlineData(0x5000, true)]
    [InlineData(0x0000, false)]
    [InlineData(0x7FFF, true)]
    [InlineData(0x8000, false)]
    [InlineData(0xFFFF, false)]
    public void Channels_0x4000_to_0x7FFF_are_valid_as_RFC_5766_clients_still_use_them(int channel, bool valid)
    {
        Assert.Equal(valid, ChannelData.IsValidChannelNumber((ushort)channel));
        byte[] datagram = new byte[8];
        ChannelData.WriteHeader(datagram, (ushort)channel, 4);
        Assert.Equal(valid, ChannelData.TryRead(datagram, out _, out _));
    }

    [Fact]
    public void Channel_range_is_exactly_the_16384_numbers_that_start_with_0b01()
    {
        int valid = 0;
        for (int channel = 0; channel <= ushort.MaxValue; channel++)
        {
            if (ChannelData.IsValidChannelNumber((ushort)channel))
            {
                valid++;
                Assert.InRange(channel, 0x4000, 0x7FFF);
            }
        }
        Assert.Equal(0x4000, valid);
    }

    [Fact]
    public void A_length_longer_than_the_data_is_refused()
    {
        byte[] datagram = new byte[4 + 5];
        ChannelData.WriteHeader(datagram, 0x4000, 6);
        Assert.False(ChannelData.TryRead(datagram, out _, out _));
        ChannelData.WriteHeader(datagram, 0x4000, 0xFFFF);
        Assert.False(ChannelData.TryRead(datagram, out _, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void Padding_after_the_data_is_accepted(int padding)
    {
        // RFC 8656 §12.5: over TCP and TLS the message is padded to a multiple of 4 bytes.
        byte[] datagram = new byte[4 + 5 + padding];
        ChannelData.WriteHeader(datagram, 0x4ABC, 5);
        Assert.True(ChannelData.TryRead(datagram, out ushort channel, out int length));
        Assert.Equal(0x4ABC, channel);
        Assert.Equal(5, length);
    }

    [Fact]
    public void Empty_application_data_is_accepted()
    {
        byte[] datagram = new byte[4];
        ChannelData.WriteHeader(datagram, 0x4000, 0);
        Assert.True(ChannelData.TryRead(datagram, out _, out int length));
        Assert.Equal(0, length);
    }

    [Fact]
    public void Fewer_than_4_bytes_are_not_ChannelData()
    {
        byte[] datagram = [0x40, 0x00, 0x00, 0x00];
        for (int length = 0; length < 4; length++)
        {
            Assert.False(ChannelData.TryRead(datagram.AsSpan(0, length), out ushort channel, out int dataLength));
            Assert.Equal(0, channel);
            Assert.Equal(0, dataLength);
        }
        Assert.False(ChannelData.LooksLikeChannelData(ReadOnlySpan<byte>.Empty));
    }

    [Theory]
    [InlineData(0x00, false)]
    [InlineData(0x3F, false)]
    [InlineData(0x40, true)]
    [InlineData(0x7F, true)]
    [InlineData(0x80, false)]
    [InlineData(0xC0, false)]
    public void ChannelData_is_told_from_STUN_by_the_first_two_bits(byte first, bool channelData)
    {
        byte[] datagram = [first, 0, 0, 0];
        Assert.Equal(channelData, ChannelData.LooksLikeChannelData(datagram));
        Assert.Equal(first < 0x40, StunMessageReader.LooksLikeStun(datagram));
    }
}
