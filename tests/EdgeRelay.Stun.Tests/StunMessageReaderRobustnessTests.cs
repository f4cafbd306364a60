using System.Buffers.Binary;

namespace EdgeRelay.Stun.Tests;

/// <summary>
/// RFC 8489 §6.3: whatever arrives, parsing answers with an error code and never throws, and every read
/// on a message that did parse stays inside it. Property tests with a fixed seed, so a failure repeats.
/// </summary>
public class StunMessageReaderRobustnessTests
{
    private const int Seed = 0x5EED5;

    public static TheoryData<string> Vectors => TestVectors.Names;

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Every_truncation_of_a_vector_is_rejected_without_throwing(string vector)
    {
        byte[] message = TestVectors.Get(vector);
        for (int length = 0; length < message.Length; length++)
        {
            Assert.False(Exercise.Datagram(message.AsSpan(0, length)), $"a {length}-byte prefix parsed");
            Assert.NotEqual(StunParseError.None, StunMessageReader.TryParse(message.AsSpan(0, length), out _));
        }
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Truncation_with_a_fixed_up_length_parses_exactly_at_attribute_boundaries(string vector)
    {
        byte[] message = TestVectors.Get(vector);
        List<ParsedAttribute> attributes = Parsed.Attributes(message);
        var boundaries = attributes.Select(a => a.Offset).ToHashSet();
        for (int length = StunConstants.HeaderLength; length < message.Length; length += 4)
        {
            byte[] prefix = message.AsSpan(0, length).ToArray();
            BinaryPrimitives.WriteUInt16BigEndian(prefix.AsSpan(2), (ushort)(length - StunConstants.HeaderLength));
            bool parsed = Exercise.Datagram(prefix);
            Assert.Equal(boundaries.Contains(length), parsed);
            if (parsed)
            {
                Assert.Equal(attributes.TakeWhile(a => a.Offset < length).ToList(), Parsed.Attributes(prefix));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Vectors))]
    public void Every_value_of_every_byte_of_a_vector_is_handled_without_throwing(string vector)
    {
        byte[] message = TestVectors.Get(vector);
        byte[] key = TestVectors.KeyOf(vector);
        int covered = Parsed.IntegrityEnd(message);
        byte[] mutated = (byte[])message.Clone();
        int parsed = 0;
        for (int position = 0; position < message.Length; position++)
        {
            for (int value = 0; value < 256; value++)
            {
                if (value == message[position])
                {
                    continue;
                }
                mutated[position] = (byte)value;
                if (Exercise.Datagram(mutated))
                {
                    parsed++;
                    if (position < covered)
                    {
                        Assert.False(Parsed.AcceptsAnyIntegrity(mutated, key), $"byte {position} = 0x{value:x2} still verifies");
                    }
                    Assert.False(Parsed.AcceptsFingerprint(mutated), $"byte {position} = 0x{value:x2} still passes the fingerprint");
                }
            }
            mutated[position] = message[position];
        }
        // Most changes land in attribute values and still parse: the loop did reach the attribute code.
        Assert.True(parsed > message.Length * 100, $"only {parsed} mutations parsed");
    }

    [Fact]
    public void Random_datagrams_never_make_the_reader_throw()
    {
        var random = new Random(Seed);
        byte[] buffer = new byte[1024];
        int parsed = 0, withIntegrity = 0, verified = 0, channelData = 0;
        for (int i = 0; i < 100_000; i++)
        {
            int length = (i % 4) switch
            {
                0 => RandomBytes(random, buffer),
                1 => RandomChannelData(random, buffer),
                _ => RandomStun(random, buffer),
            };
            ReadOnlySpan<byte> datagram = buffer.AsSpan(0, length);
            if (Exercise.Datagram(datagram))
            {
                parsed++;
                if (StunMessageReader.TryParse(datagram, out StunMessageReader message) == StunParseError.None
                    && (message.HasMessageIntegrity || message.HasFingerprint))
                {
                    withIntegrity++;
                    if (Parsed.AcceptsAnyIntegrity(datagram, TestVectors.ShortTermKey) || Parsed.AcceptsFingerprint(datagram))
                    {
                        verified++;
                    }
                }
            }
            if (ChannelData.TryRead(datagram, out _, out _))
            {
                channelData++;
            }
        }

        // The generator must reach deep: many parse, some carry integrity, some of those verify.
        Assert.True(parsed > 30_000, $"only {parsed} datagrams parsed");
        Assert.True(withIntegrity > 5_000, $"only {withIntegrity} carried MESSAGE-INTEGRITY or FINGERPRINT");
        Assert.True(verified > 1_000, $"only {verified} verified");
        Assert.True(channelData > 5_000, $"only {channelData} read as ChannelData");
    }

    [Fact]
    public void Random_input_never_makes_ChannelData_TryRead_throw()
    {
        var random = new Random(Seed + 1);
        byte[] buffer = new byte[600];
        int accepted = 0;
        for (int i = 0; i < 100_000; i++)
        {
            int length = random.Next(0, 601);
            random.NextBytes(buffer.AsSpan(0, length));
            if (ChannelData.TryRead(buffer.AsSpan(0, length), out ushort channel, out int dataLength))
            {
                accepted++;
                Assert.InRange(channel, ChannelData.MinChannelNumber, ChannelData.MaxChannelNumber);
                Assert.InRange(dataLength, 0, length - ChannelData.HeaderLength);
            }
        }
        // Random lengths are mostly larger than the data: about 1/16 of channels are bindable and few lengths fit.
        Assert.True(accepted > 0);
    }

    private static int RandomBytes(Random random, byte[] buffer)
    {
        int length = random.Next(0, 601);
        random.NextBytes(buffer.AsSpan(0, length));
        return length;
    }

    private static int RandomChannelData(Random random, byte[] buffer)
    {
        int dataLength = random.Next(0, 580);
        ushort channel = (ushort)random.Next(0x3FF0, 0x5010);
        int declared = random.Next(4) == 0 ? random.Next(0, 65536) : dataLength;
        ChannelData.WriteHeader(buffer, channel, declared);
        random.NextBytes(buffer.AsSpan(ChannelData.HeaderLength, dataLength));
        int padding = random.Next(0, 4);
        buffer.AsSpan(ChannelData.HeaderLength + dataLength, padding).Clear();
        return ChannelData.HeaderLength + dataLength + padding;
    }

    private static readonly ushort[] InterestingTypes =
    [
        .. Enum.GetValues<StunAttributeType>().Select(t => (ushort)t),
        0x0000, 0x0024, 0x7FFF, 0x8029, 0xFFFF,
    ];

    /// <summary>
    /// A header that passes, then attributes whose types, lengths and values are likely to reach the
    /// codecs: address families, integrity lengths, error classes. Sometimes signed or fingerprinted for
    /// real, sometimes with a wrong length field or a byte changed afterwards.
    /// </summary>
    private static int RandomStun(Random random, byte[] buffer)
    {
        int target = random.Next(StunConstants.HeaderLength, 601);
        Span<byte> transactionId = stackalloc byte[StunConstants.TransactionIdLength];
        random.NextBytes(transactionId);
        var writer = new StunMessageWriter(buffer, (StunMethod)random.Next(0, 0x1000), (StunClass)random.Next(0, 4), transactionId);
        while (writer.Length < target - 8)
        {
            ushort type = random.Next(5) == 0 ? (ushort)random.Next(0, 0x10000) : InterestingTypes[random.Next(InterestingTypes.Length)];
            int valueLength = RandomValueLength(random, (StunAttributeType)type);
            if (writer.Length + 4 + StunPadding.Pad4(valueLength) > 600)
            {
                break;
            }
            Span<byte> value = writer.AddAttribute((StunAttributeType)type, valueLength);
            random.NextBytes(value);
            if (value.Length >= 4 && random.Next(2) == 0)
            {
                value[0] = 0;
                value[1] = (byte)random.Next(0, 4); // an address family, or close to one
                value[2] = (byte)random.Next(0, 8); // an error class, or close to one
                value[3] = (byte)random.Next(0, 120);
            }
            int roll = random.Next(20);
            if (roll == 0 && writer.Length + 24 <= 600)
            {
                writer.AddMessageIntegrity(TestVectors.ShortTermKey);
            }
            else if (roll == 1 && writer.Length + 36 <= 600)
            {
                writer.AddMessageIntegritySha256(TestVectors.ShortTermKey);
            }
            else if (roll == 2 && writer.Length + 8 <= 600)
            {
                writer.AddFingerprint();
            }
        }
        if (random.Next(3) == 0 && writer.Length + 8 <= 600)
        {
            writer.AddFingerprint();
        }
        int length = writer.Length;

        switch (random.Next(10))
        {
            case 0: // a random length field
                BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(2), (ushort)random.Next(0, 0x10000));
                break;
            case 1: // one byte changed
                buffer[random.Next(length)] = (byte)random.Next(256);
                break;
            case 2: // cut short, or trailing bytes
                length = Math.Clamp(length + random.Next(-8, 9), 0, 600);
                break;
            case 3: // an attribute length field changed
                int offset = StunConstants.HeaderLength + 4 * random.Next(0, Math.Max(1, (length - StunConstants.HeaderLength) / 4));
                if (offset + 4 <= length)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(offset + 2), (ushort)random.Next(0, 0x10000));
                }
                break;
        }
        return length;
    }

    private static int RandomValueLength(Random random, StunAttributeType type)
    {
        if (random.Next(8) == 0)
        {
            return random.Next(0, 80);
        }
        return type switch
        {
            StunAttributeType.MappedAddress or StunAttributeType.XorMappedAddress or StunAttributeType.XorPeerAddress
                or StunAttributeType.XorRelayedAddress or StunAttributeType.AlternateServer => random.Next(2) == 0 ? 8 : 20,
            StunAttributeType.MessageIntegrity => 20,
            StunAttributeType.MessageIntegritySha256 => 4 * random.Next(3, 10),
            StunAttributeType.Fingerprint or StunAttributeType.Lifetime => 4,
            _ => random.Next(0, 40),
        };
    }
}
