using System.Buffers.Binary;

namespace EdgeRelay.Fuzz.Targets;

/// <summary>
/// The input of the <c>turn</c> target: records, each <c>op:u8 length:u16be payload[length]</c> (a last
/// record cut short takes what remains). The op byte:
/// <list type="bullet">
/// <item>bits 0-1: the source, <see cref="Harness.FuzzRelay.Sources"/>: 0 and 1 are UDP clients, 2 and 3 TCP connections;</item>
/// <item>bit 2: re-sign the payload (fresh NONCE, MESSAGE-INTEGRITY(-SHA256), FINGERPRINT) before it is sent;</item>
/// <item>bit 3: the payload is a datagram from a peer to this source's allocation, not from the client;</item>
/// <item>bits 4-7: a, the clock moves 2^(a-1) × 100 ms (and the server ticks) before the record; 0 leaves it.</item>
/// </list>
/// </summary>
public readonly ref struct TurnScriptRecord(byte op, ReadOnlySpan<byte> payload)
{
    public const int HeaderLength = 3;
    public const byte Resign = 4;
    public const byte FromPeer = 8;

    public int Source { get; } = op & 3;
    public bool IsResigned { get; } = (op & Resign) != 0;
    public bool IsFromPeer { get; } = (op & FromPeer) != 0;
    public TimeSpan Advance { get; } = (op >> 4) == 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(100L << ((op >> 4) - 1));
    public ReadOnlySpan<byte> Payload { get; } = payload;

    public static bool TryRead(ref ReadOnlySpan<byte> script, out TurnScriptRecord record)
    {
        record = default;
        if (script.IsEmpty)
        {
            return false;
        }
        byte op = script[0];
        int length = script.Length >= HeaderLength ? BinaryPrimitives.ReadUInt16BigEndian(script[1..]) : 0;
        int available = Math.Max(0, script.Length - HeaderLength);
        length = Math.Min(length, available);
        record = new TurnScriptRecord(op, script.Slice(Math.Min(HeaderLength, script.Length), length));
        script = script[Math.Min(script.Length, HeaderLength + length)..];
        return true;
    }
}
