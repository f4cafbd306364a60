namespace EdgeRelay.Stun.Tests;

/// <summary>RFC 8489 §5 figure 3: the method's bits interleaved with C1 (bit 8) and C0 (bit 4).</summary>
public class StunMessageTypeTests
{
    [Theory]
    [InlineData(StunMethod.Binding, StunClass.Request, 0x0001)]
    [InlineData(StunMethod.Binding, StunClass.Indication, 0x0011)]
    [InlineData(StunMethod.Binding, StunClass.SuccessResponse, 0x0101)]
    [InlineData(StunMethod.Binding, StunClass.ErrorResponse, 0x0111)]
    [InlineData(StunMethod.Allocate, StunClass.Request, 0x0003)]
    [InlineData(StunMethod.Allocate, StunClass.SuccessResponse, 0x0103)]
    [InlineData(StunMethod.Allocate, StunClass.ErrorResponse, 0x0113)]
    [InlineData(StunMethod.Refresh, StunClass.Request, 0x0004)]
    [InlineData(StunMethod.Refresh, StunClass.SuccessResponse, 0x0104)]
    [InlineData(StunMethod.Refresh, StunClass.ErrorResponse, 0x0114)]
    [InlineData(StunMethod.Send, StunClass.Indication, 0x0016)]
    [InlineData(StunMethod.Data, StunClass.Indication, 0x0017)]
    [InlineData(StunMethod.CreatePermission, StunClass.Request, 0x0008)]
    [InlineData(StunMethod.CreatePermission, StunClass.SuccessResponse, 0x0108)]
    [InlineData(StunMethod.CreatePermission, StunClass.ErrorResponse, 0x0118)]
    [InlineData(StunMethod.ChannelBind, StunClass.Request, 0x0009)]
    [InlineData(StunMethod.ChannelBind, StunClass.SuccessResponse, 0x0109)]
    [InlineData(StunMethod.ChannelBind, StunClass.ErrorResponse, 0x0119)]
    public void Known_message_types_have_their_RFC_values(StunMethod method, StunClass @class, int type)
    {
        Assert.Equal((ushort)type, StunMessageType.Encode(method, @class));
        Assert.Equal(method, StunMessageType.GetMethod((ushort)type));
        Assert.Equal(@class, StunMessageType.GetClass((ushort)type));
    }

    [Fact]
    public void Every_method_and_class_round_trips_through_the_writer_and_the_reader()
    {
        Span<byte> buffer = stackalloc byte[StunConstants.HeaderLength];
        byte[] transactionId = Hex.Bytes("00112233445566778899aabb");
        foreach (StunMethod method in Enum.GetValues<StunMethod>())
        {
            foreach (StunClass @class in Enum.GetValues<StunClass>())
            {
                var writer = new StunMessageWriter(buffer, method, @class, transactionId);
                Assert.Equal(StunParseError.None, StunMessageReader.TryParse(writer.Written, out StunMessageReader reader));
                Assert.Equal(method, reader.Method);
                Assert.Equal(@class, reader.Class);
                Assert.Equal(StunMessageType.Encode(method, @class), reader.MessageType);
            }
        }
    }

    [Fact]
    public void All_12_bit_methods_and_4_classes_round_trip_to_distinct_14_bit_types()
    {
        var seen = new HashSet<ushort>();
        for (int method = 0; method < 0x1000; method++)
        {
            foreach (StunClass @class in Enum.GetValues<StunClass>())
            {
                ushort type = StunMessageType.Encode((StunMethod)method, @class);
                Assert.True(type < 0x4000, $"type 0x{type:x4} sets the top bits");
                Assert.Equal((StunMethod)method, StunMessageType.GetMethod(type));
                Assert.Equal(@class, StunMessageType.GetClass(type));
                Assert.True(seen.Add(type), $"type 0x{type:x4} encoded twice");
            }
        }
        Assert.Equal(0x4000, seen.Count);
    }

    [Fact]
    public void Every_14_bit_type_decodes_and_encodes_back_to_itself()
    {
        for (int type = 0; type < 0x4000; type++)
        {
            Assert.Equal((ushort)type, StunMessageType.Encode(StunMessageType.GetMethod((ushort)type), StunMessageType.GetClass((ushort)type)));
        }
    }

    [Fact]
    public void Class_bits_are_C0_at_0x0010_and_C1_at_0x0100()
    {
        Assert.Equal(0x0010, StunMessageType.Encode(0, StunClass.Indication));
        Assert.Equal(0x0100, StunMessageType.Encode(0, StunClass.SuccessResponse));
        // Method bits M4-M6 skip bit 4 and M7-M11 skip bit 8.
        Assert.Equal(0x0020, StunMessageType.Encode((StunMethod)0x0010, StunClass.Request));
        Assert.Equal(0x0200, StunMessageType.Encode((StunMethod)0x0080, StunClass.Request));
        Assert.Equal(0x3EEF, StunMessageType.Encode((StunMethod)0x0FFF, StunClass.Request));
    }
}
