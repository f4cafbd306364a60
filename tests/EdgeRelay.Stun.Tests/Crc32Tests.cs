namespace EdgeRelay.Stun.Tests;

public sealed class Crc32Tests
{
    [Fact]
    public void The_check_value_of_the_crc_32_catalogue_is_reproduced() =>
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));

    [Fact]
    public void Every_length_agrees_with_the_byte_at_a_time_definition()
    {
        byte[] data = new byte[200];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)i;
        }
        // zlib.crc32(bytes(range(200))) = 0xed086180
        Assert.Equal(0xED086180u, Crc32.Compute(data));
        for (int length = 0; length <= data.Length; length++)
        {
            Assert.Equal(Reference(data.AsSpan(0, length)), Crc32.Compute(data.AsSpan(0, length)));
            // Appending in two parts at any split gives the same result as one pass.
            int split = length / 3;
            Assert.Equal(Crc32.Compute(data.AsSpan(0, length)), Crc32.Append(Crc32.Compute(data.AsSpan(0, split)), data.AsSpan(split, length - split)));
        }
    }

    private static uint Reference(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }
        }
        return ~c;
    }
}
