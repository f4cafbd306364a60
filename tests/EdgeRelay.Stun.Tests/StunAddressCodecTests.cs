using System.Net;

namespace EdgeRelay.Stun.Tests;

/// <summary>MAPPED-ADDRESS (RFC 8489 §14.1) and the XOR-ed address attributes (§14.2).</summary>
public class StunAddressCodecTests
{
    private static readonly byte[] TransactionId = TestVectors.Rfc5769TransactionId;

    private static TransportAddress Address(string ip, int port) => TransportAddress.FromIPAddress(IPAddress.Parse(ip), port);

    [Fact]
    public void XOR_IPv4_address_encodes_as_in_RFC5769()
    {
        Span<byte> value = stackalloc byte[StunAddressCodec.IPv4ValueLength];
        Assert.Equal(8, StunAddressCodec.EncodeXor(value, Address("192.0.2.1", 32853), TransactionId));
        Assert.Equal("0001a147e112a643", Hex.Of(value));
    }

    [Fact]
    public void XOR_IPv6_address_encodes_as_in_RFC5769()
    {
        Span<byte> value = stackalloc byte[StunAddressCodec.IPv6ValueLength];
        Assert.Equal(20, StunAddressCodec.EncodeXor(value, Address("2001:db8:1234:5678:11:2233:4455:6677", 32853), TransactionId));
        Assert.Equal("0002a1470113a9faa5d3f179bc25f4b5bed2b9d9", Hex.Of(value));
    }

    [Fact]
    public void Plain_address_is_written_as_it_is()
    {
        Span<byte> value = stackalloc byte[20];
        Assert.Equal(8, StunAddressCodec.Encode(value, Address("192.0.2.1", 32853)));
        Assert.Equal("00018055c0000201", Hex.Of(value[..8]));
        Assert.Equal(20, StunAddressCodec.Encode(value, Address("2001:db8::1", 3478)));
        Assert.Equal("00020d9620010db8000000000000000000000001", Hex.Of(value));
    }

    [Fact]
    public void Random_IPv4_and_IPv6_addresses_round_trip_plain_and_XORed()
    {
        var random = new Random(4242);
        Span<byte> ip = stackalloc byte[16];
        Span<byte> value = stackalloc byte[20];
        Span<byte> transactionId = stackalloc byte[12];
        for (int i = 0; i < 10_000; i++)
        {
            random.NextBytes(ip);
            random.NextBytes(transactionId);
            ushort port = (ushort)random.Next(0, 65536);
            TransportAddress address = i % 2 == 0 ? TransportAddress.FromIPv4(ip[..4], port) : TransportAddress.FromIPv6(ip, port);
            int length = StunAddressCodec.GetValueLength(address);
            Assert.Equal(address.IsIPv4 ? 8 : 20, length);

            Assert.Equal(length, StunAddressCodec.EncodeXor(value, address, transactionId));
            Assert.True(StunAddressCodec.TryDecodeXor(value[..length], transactionId, out TransportAddress decoded));
            Assert.Equal(address, decoded);
            // The XOR-ed form is not the plain one (port XOR 0x2112 always changes it).
            Assert.True(StunAddressCodec.TryDecode(value[..length], out TransportAddress notXored));
            Assert.NotEqual(address, notXored);

            Assert.Equal(length, StunAddressCodec.Encode(value, address));
            Assert.True(StunAddressCodec.TryDecode(value[..length], out decoded));
            Assert.Equal(address, decoded);
            Assert.Equal(address.ToIPEndPoint(), decoded.ToIPEndPoint());
        }
    }

    [Fact]
    public void XOR_addresses_round_trip_through_the_writer_and_the_reader()
    {
        TransportAddress peer = Address("203.0.113.9", 50000);
        TransportAddress relayed = Address("2001:db8:ffff::42", 49152);
        TransportAddress mapped = Address("198.51.100.7", 1);
        byte[] buffer = new byte[128];
        var writer = new StunMessageWriter(buffer, StunMethod.Allocate, StunClass.SuccessResponse, TransactionId);
        writer.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
        writer.AddXorAddress(StunAttributeType.XorRelayedAddress, relayed);
        writer.AddXorAddress(StunAttributeType.XorMappedAddress, mapped);
        writer.AddAddress(StunAttributeType.AlternateServer, relayed);

        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(writer.Written, out StunMessageReader reader));
        Assert.True(reader.TryGetXorAddress(StunAttributeType.XorPeerAddress, out TransportAddress address));
        Assert.Equal(peer, address);
        Assert.True(reader.TryGetXorAddress(StunAttributeType.XorRelayedAddress, out address));
        Assert.Equal(relayed, address);
        Assert.True(reader.TryGetXorAddress(StunAttributeType.XorMappedAddress, out address));
        Assert.Equal(mapped, address);
        Assert.True(reader.TryGetAttribute(StunAttributeType.AlternateServer, out ReadOnlySpan<byte> alternate));
        Assert.True(StunAddressCodec.TryDecode(alternate, out address));
        Assert.Equal(relayed, address);
        Assert.False(reader.TryGetXorAddress(StunAttributeType.MappedAddress, out _));
    }

    [Fact]
    public void The_IPv6_XOR_uses_the_transaction_ID_so_another_ID_decodes_another_address()
    {
        TransportAddress address = Address("2001:db8::1", 3478);
        Span<byte> value = stackalloc byte[20];
        StunAddressCodec.EncodeXor(value, address, TransactionId);
        byte[] otherId = (byte[])TransactionId.Clone();
        otherId[11] ^= 1;
        Assert.True(StunAddressCodec.TryDecodeXor(value, otherId, out TransportAddress decoded));
        Assert.NotEqual(address, decoded);
        Assert.Equal(address.Port, decoded.Port);
    }

    [Fact]
    public void The_reserved_first_byte_is_ignored()
    {
        // RFC 8489 §14.1: the first 8 bits MUST be ignored by receivers.
        byte[] value = Hex.Bytes("ff01a147e112a643");
        Assert.True(StunAddressCodec.TryDecodeXor(value, TransactionId, out TransportAddress decoded));
        Assert.Equal(Address("192.0.2.1", 32853), decoded);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0001a147")]
    [InlineData("0001a147e112a6")] // 7 bytes
    [InlineData("0001a147e112a64300")] // 9 bytes
    [InlineData("0002a147e112a643")] // IPv6 family, IPv4 length
    [InlineData("0001a1470113a9faa5d3f179bc25f4b5bed2b9d9")] // IPv4 family, IPv6 length
    [InlineData("0002a1470113a9faa5d3f179bc25f4b5bed2b9")] // 19 bytes
    [InlineData("0002a1470113a9faa5d3f179bc25f4b5bed2b9d900")] // 21 bytes
    [InlineData("0000a147e112a643")] // family 0
    [InlineData("0003a147e112a643")] // family 3
    [InlineData("0003a1470113a9faa5d3f179bc25f4b5bed2b9d9")]
    public void Malformed_address_values_are_refused(string hex)
    {
        byte[] value = Hex.Bytes(hex);
        Assert.False(StunAddressCodec.TryDecode(value, out TransportAddress plain));
        Assert.Equal(default, plain);
        Assert.False(StunAddressCodec.TryDecodeXor(value, TransactionId, out TransportAddress xored));
        Assert.Equal(default, xored);
    }

    [Fact]
    public void An_XOR_IPv6_address_needs_a_12_byte_transaction_ID()
    {
        byte[] value = Hex.Bytes("0002a1470113a9faa5d3f179bc25f4b5bed2b9d9");
        Assert.True(StunAddressCodec.TryDecodeXor(value, TransactionId, out _));
        Assert.False(StunAddressCodec.TryDecodeXor(value, TransactionId.AsSpan(0, 11), out _));
        Assert.False(StunAddressCodec.TryDecodeXor(value, ReadOnlySpan<byte>.Empty, out _));
    }
}
