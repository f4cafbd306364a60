namespace EdgeRelay.Stun.Tests;

/// <summary>The attributes of NAT behaviour discovery, RFC 5780 §7: their bytes and their round trips.</summary>
public class Rfc5780AttributeTests
{
    private static readonly byte[] TransactionId = Hex.Bytes("0102030405060708090a0b0c");

    [Theory]
    [InlineData(ChangeRequestFlags.None, "00030004" + "00000000")]
    [InlineData(ChangeRequestFlags.ChangePort, "00030004" + "00000002")]
    [InlineData(ChangeRequestFlags.ChangeIP, "00030004" + "00000004")]
    [InlineData(ChangeRequestFlags.ChangeIP | ChangeRequestFlags.ChangePort, "00030004" + "00000006")]
    public void CHANGE_REQUEST_carries_change_IP_as_bit_A_and_change_port_as_bit_B(ChangeRequestFlags flags, string hex)
    {
        byte[] buffer = new byte[64];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
        writer.AddChangeRequest(flags);
        Assert.Equal(hex, Hex.Of(writer.Written[20..]));

        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(writer.Written, out StunMessageReader reader));
        Assert.True(reader.TryGetChangeRequest(out ChangeRequestFlags read));
        Assert.Equal(flags, read);
    }

    [Fact]
    public void CHANGE_REQUEST_ignores_bits_other_than_A_and_B_and_refuses_another_length()
    {
        Assert.True(ChangeRequest.TryDecode(Hex.Bytes("ffffff07"), out ChangeRequestFlags flags));
        Assert.Equal(ChangeRequestFlags.ChangeIP | ChangeRequestFlags.ChangePort, flags);
        Assert.False(ChangeRequest.TryDecode(Hex.Bytes("000006"), out _));
        Assert.False(ChangeRequest.TryDecode(Hex.Bytes("0000000600000000"), out _));
    }

    [Fact]
    public void RESPONSE_PORT_is_a_port_and_two_bytes_of_padding()
    {
        byte[] buffer = new byte[64];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
        writer.AddResponsePort(3479);
        Assert.Equal("00270004" + "0d970000", Hex.Of(writer.Written[20..]));

        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(writer.Written, out StunMessageReader reader));
        Assert.True(reader.TryGetResponsePort(out ushort port));
        Assert.Equal(3479, port);
    }

    [Theory]
    [InlineData("0000")]
    [InlineData("00000000")]
    [InlineData("0d97000000")]
    public void RESPONSE_PORT_of_another_length_or_port_0_is_malformed(string value) =>
        Assert.False(ResponsePort.TryDecode(Hex.Bytes(value), out _));

    [Fact]
    public void PADDING_is_written_as_zeros_of_the_length_asked()
    {
        byte[] buffer = new byte[128];
        buffer.AsSpan().Fill(0xAA);
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.SuccessResponse, TransactionId);
        writer.AddPadding(8);
        writer.AddPadding(0);
        Assert.Equal("00260008" + "0000000000000000" + "00260000", Hex.Of(writer.Written[20..]));
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(writer.Written, out StunMessageReader reader));
        Assert.True(reader.TryGetAttribute(StunAttributeType.Padding, out ReadOnlySpan<byte> value));
        Assert.Equal(8, value.Length);
    }

    [Fact]
    public void PADDING_of_a_length_that_is_not_a_multiple_of_4_is_a_programming_error()
    {
        byte[] buffer = new byte[128];
        Assert.Throws<ArgumentException>(() =>
        {
            var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.SuccessResponse, TransactionId);
            writer.AddPadding(6);
        });
    }

    [Fact]
    public void RESPONSE_ORIGIN_and_OTHER_ADDRESS_use_the_plain_MAPPED_ADDRESS_encoding()
    {
        byte[] buffer = new byte[128];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.SuccessResponse, TransactionId);
        writer.AddAddress(StunAttributeType.ResponseOrigin, TransportAddress.FromIPAddress(System.Net.IPAddress.Parse("192.0.2.1"), 3478));
        writer.AddAddress(StunAttributeType.OtherAddress, TransportAddress.FromIPAddress(System.Net.IPAddress.Parse("192.0.2.2"), 3479));
        Assert.Equal("802b0008" + "00010d96c0000201" + "802c0008" + "00010d97c0000202", Hex.Of(writer.Written[20..]));

        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(writer.Written, out StunMessageReader reader));
        Assert.True(reader.TryGetAttribute(StunAttributeType.OtherAddress, out ReadOnlySpan<byte> other));
        Assert.True(StunAddressCodec.TryDecode(other, out TransportAddress address));
        Assert.Equal("192.0.2.2:3479", address.ToString());
    }

    [Fact]
    public void CHANGE_REQUEST_PADDING_and_RESPONSE_PORT_are_unknown_unless_NAT_behaviour_discovery_is_served()
    {
        byte[] buffer = new byte[128];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TransactionId);
        writer.AddChangeRequest(ChangeRequestFlags.ChangeIP);
        writer.AddPadding(4);
        writer.AddResponsePort(4000);
        writer.AddUInt32((StunAttributeType)0x0031, 1);
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(writer.Written, out StunMessageReader reader));

        Span<ushort> unknown = stackalloc ushort[8];
        int count = reader.CollectUnknownComprehensionRequired(unknown);
        Assert.Equal([0x0003, 0x0026, 0x0027, 0x0031], unknown[..count].ToArray());
        count = reader.CollectUnknownComprehensionRequired(unknown, natBehaviorDiscovery: true);
        Assert.Equal([0x0031], unknown[..count].ToArray());
    }
}
