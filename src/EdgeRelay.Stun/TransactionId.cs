using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;

namespace EdgeRelay.Stun;

/// <summary>The 96-bit transaction ID of RFC 8489 §5, as a value that can key a table.</summary>
public readonly struct TransactionId : IEquatable<TransactionId>
{
    private readonly ulong _high;
    private readonly uint _low;

    private TransactionId(ulong high, uint low)
    {
        _high = high;
        _low = low;
    }

    public static TransactionId Read(ReadOnlySpan<byte> bytes)
    {
        Debug.Assert(bytes.Length >= StunConstants.TransactionIdLength);
        return new TransactionId(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt32BigEndian(bytes[8..]));
    }

    /// <summary>A new ID from a cryptographically random source, as RFC 8489 §6 asks for.</summary>
    public static TransactionId NewRandom()
    {
        Span<byte> bytes = stackalloc byte[StunConstants.TransactionIdLength];
        RandomNumberGenerator.Fill(bytes);
        return Read(bytes);
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _high);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], _low);
    }

    public bool Equals(TransactionId other) => _high == other._high && _low == other._low;
    public override bool Equals(object? obj) => obj is TransactionId other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(_high, _low);
    public static bool operator ==(TransactionId left, TransactionId right) => left.Equals(right);
    public static bool operator !=(TransactionId left, TransactionId right) => !left.Equals(right);
    public override string ToString() => $"{_high:x16}{_low:x8}";
}
