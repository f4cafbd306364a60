namespace EdgeRelay.Stun.Tests;

internal static class Hex
{
    /// <summary>Bytes from hex written with or without spaces, as RFCs print them.</summary>
    public static byte[] Bytes(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    public static string Of(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes).ToLowerInvariant();
}
