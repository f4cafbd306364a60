using System.Buffers.Binary;

namespace EdgeRelay.Stun;

/// <summary>
/// CRC-32 as ISO/IEC 13239 and ITU-T V.42 define it (reflected polynomial 0xEDB88320), the checksum
/// that FINGERPRINT carries (RFC 8489 §14.7). Slicing-by-8: eight tables let the loop take eight bytes
/// a step, several times faster than a byte a step on a Send indication's payload.
/// </summary>
internal static class Crc32
{
    private static readonly uint[] Tables = CreateTables();

    private static uint[] CreateTables()
    {
        var tables = new uint[8 * 256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }
            tables[n] = c;
        }
        for (int t = 1; t < 8; t++)
        {
            for (int n = 0; n < 256; n++)
            {
                uint previous = tables[(t - 1) * 256 + n];
                tables[t * 256 + n] = (previous >> 8) ^ tables[previous & 0xFF];
            }
        }
        return tables;
    }

    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        uint[] t = Tables;
        uint c = ~crc;
        while (data.Length >= 8)
        {
            uint low = BinaryPrimitives.ReadUInt32LittleEndian(data) ^ c;
            uint high = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
            c = t[7 * 256 + (low & 0xFF)] ^ t[6 * 256 + ((low >> 8) & 0xFF)] ^ t[5 * 256 + ((low >> 16) & 0xFF)] ^ t[4 * 256 + (low >> 24)]
                ^ t[3 * 256 + (high & 0xFF)] ^ t[2 * 256 + ((high >> 8) & 0xFF)] ^ t[256 + ((high >> 16) & 0xFF)] ^ t[high >> 24];
            data = data[8..];
        }
        foreach (byte b in data)
        {
            c = t[(c ^ b) & 0xFF] ^ (c >> 8);
        }
        return ~c;
    }

    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);
}
