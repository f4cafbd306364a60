namespace EdgeRelay.Stun;

/// <summary>
/// CRC-32 as ISO/IEC 13239 and ITU-T V.42 define it (reflected polynomial 0xEDB88320), the checksum
/// that FINGERPRINT carries (RFC 8489 §14.7).
/// </summary>
internal static class Crc32
{
    private static readonly uint[] Table = CreateTable();

    private static uint[] CreateTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }
            table[n] = c;
        }
        return table;
    }

    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = ~crc;
        uint[] table = Table;
        foreach (byte b in data)
        {
            c = table[(c ^ b) & 0xFF] ^ (c >> 8);
        }
        return ~c;
    }

    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);
}
