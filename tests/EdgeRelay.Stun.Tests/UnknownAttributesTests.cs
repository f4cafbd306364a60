using System.Buffers.Binary;

namespace EdgeRelay.Stun.Tests;

/// <summary>RFC 8489 §7.3.1 and §14.13: unknown comprehension-required attributes and the 420 answer.</summary>
public class UnknownAttributesTests
{
    private static readonly byte[] TransactionId = Hex.Bytes("0102030405060708090a0b0c");

    [Fact]
    public void UNKNOWN_ATTRIBUTES_lists_16_bit_types_padded_to_4_bytes()
    {
        byte[] buffer = new byte[64];
        buffer.AsSpan().Fill(0xAA);
        var writer = new StunMessageWriter(buffer, StunMethod.Allocate, StunClass.ErrorResponse, TransactionId);
        writer.AddErrorCode(StunErrorCode.UnknownAttribute);
        int start = writer.Length;
        writer.AddUnknownAttributes([0x0024, 0x7FFF, 0x0031]);

        Assert.Equal("000a0006" + "00247fff0031" + "0000", Hex.Of(writer.Written[start..]));
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(writer.Written, out StunMessageReader reader));
        Assert.True(reader.TryGetAttribute(StunAttributeType.UnknownAttributes, out ReadOnlySpan<byte> value));
        Assert.Equal(6, value.Length);
        Assert.Equal((ushort)0x7FFF, BinaryPrimitives.ReadUInt16BigEndian(value[2..]));
    }

    [Fact]
    public void An_even_count_of_types_needs_no_padding()
    {
        byte[] buffer = new byte[64];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.ErrorResponse, TransactionId);
        writer.AddUnknownAttributes([0x0024, 0x0031]);
        Assert.Equal("000a0004" + "00240031", Hex.Of(writer.Written[20..]));
    }

    [Fact]
    public void Unknown_comprehension_required_types_are_collected_once_in_order()
    {
        byte[] buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, StunMethod.Allocate, StunClass.Request, TransactionId);
        writer.AddUInt32((StunAttributeType)0x0031, 1);
        writer.AddUInt32(StunAttributeType.Lifetime, 600);
        writer.AddUInt32((StunAttributeType)0x8029, 1); // comprehension-optional: never listed
        writer.AddUInt32((StunAttributeType)0x0024, 1);
        writer.AddUInt32((StunAttributeType)0x0031, 2); // repeated: listed once
        writer.AddUInt32((StunAttributeType)0x7FFF, 1);
        writer.AddString(StunAttributeType.Software, "x");
        writer.AddUInt32((StunAttributeType)0x0000, 1);

        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(writer.Written, out StunMessageReader reader));
        Span<ushort> unknown = stackalloc ushort[8];
        int count = reader.CollectUnknownComprehensionRequired(unknown);
        Assert.Equal([0x0031, 0x0024, 0x7FFF, 0x0000], unknown[..count].ToArray());

        Span<ushort> two = stackalloc ushort[2];
        Assert.Equal(2, reader.CollectUnknownComprehensionRequired(two));
        Assert.Equal([0x0031, 0x0024], two.ToArray());
        Assert.Equal(0, reader.CollectUnknownComprehensionRequired(Span<ushort>.Empty));
    }

    [Fact]
    public void Every_attribute_the_server_understands_is_known()
    {
        foreach (StunAttributeType type in Enum.GetValues<StunAttributeType>())
        {
            Assert.Equal((ushort)type < 0x8000, StunAttributeTypes.IsComprehensionRequired((ushort)type));
            if ((ushort)type < 0x8000)
            {
                // RFC 5780's three are understood only where NAT behaviour discovery is served (RFC 5780 §6).
                Assert.True(StunAttributeTypes.IsKnownComprehensionRequired((ushort)type) != StunAttributeTypes.IsNatBehaviorDiscovery((ushort)type),
                    type.ToString());
            }
        }
        Assert.False(StunAttributeTypes.IsKnownComprehensionRequired(0x0024));
        Assert.False(StunAttributeTypes.IsKnownComprehensionRequired(0x0000));
    }

    [Fact]
    public void Unknown_types_after_MESSAGE_INTEGRITY_are_not_collected()
    {
        byte[] buffer = new byte[128];
        var writer = new StunMessageWriter(buffer, StunMethod.Allocate, StunClass.Request, TransactionId);
        writer.AddMessageIntegrity("k"u8);
        writer.AddUInt32((StunAttributeType)0x0031, 1);
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(writer.Written, out StunMessageReader reader));
        Assert.Equal(0, reader.CollectUnknownComprehensionRequired(stackalloc ushort[4]));
    }
}
