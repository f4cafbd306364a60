using System.Buffers.Binary;
using System.Text;
using EdgeRelay.Stun;

namespace EdgeRelay.Turn.Tests.Infrastructure;

/// <summary>A copy of a message the server wrote, parsed again on every question with <see cref="StunMessageReader"/>.</summary>
public sealed class StunResponse
{
    public StunResponse(ReadOnlySpan<byte> bytes)
    {
        Bytes = bytes.ToArray();
        StunParseError error = StunMessageReader.TryParse(Bytes, out _);
        if (error != StunParseError.None)
        {
            throw new InvalidOperationException($"the server wrote something that is not STUN ({error}): {Convert.ToHexString(Bytes)}");
        }
    }

    public byte[] Bytes { get; }

    public StunMessageReader Reader
    {
        get
        {
            StunMessageReader.TryParse(Bytes, out StunMessageReader reader);
            return reader;
        }
    }

    public StunMethod Method => Reader.Method;
    public StunClass Class => Reader.Class;
    public bool IsSuccess => Class == StunClass.SuccessResponse;
    public byte[] TransactionId => Reader.TransactionIdBytes.ToArray();

    /// <summary>The ERROR-CODE, or 0 when there is none.</summary>
    public int ErrorCode => Reader.TryGetErrorCode(out int code, out _) ? code : 0;

    public bool Has(StunAttributeType type) => Reader.HasAttribute(type);

    public byte[]? Get(StunAttributeType type) => Reader.TryGetAttribute(type, out ReadOnlySpan<byte> value) ? value.ToArray() : null;

    public string? GetString(StunAttributeType type) => Get(type) is { } bytes ? Encoding.UTF8.GetString(bytes) : null;

    public uint GetUInt32(StunAttributeType type) =>
        Reader.TryGetUInt32(type, out uint value) ? value : throw new InvalidOperationException($"no {type} in {Describe()}");

    public TransportAddress GetXorAddress(StunAttributeType type) =>
        Reader.TryGetXorAddress(type, out TransportAddress address) ? address : throw new InvalidOperationException($"no {type} in {Describe()}");

    public List<ushort> AttributeTypes
    {
        get
        {
            var types = new List<ushort>();
            foreach (StunAttribute attribute in Reader)
            {
                types.Add(attribute.Type);
            }
            return types;
        }
    }

    public List<ushort> UnknownAttributes
    {
        get
        {
            byte[] value = Get(StunAttributeType.UnknownAttributes) ?? [];
            var types = new List<ushort>();
            for (int i = 0; i + 1 < value.Length; i += 2)
            {
                types.Add(BinaryPrimitives.ReadUInt16BigEndian(value.AsSpan(i)));
            }
            return types;
        }
    }

    public bool VerifyMessageIntegrity(byte[] key)
    {
        StunMessageReader reader = Reader;
        return reader.HasMessageIntegrity && StunIntegrity.VerifyMessageIntegrity(Bytes, reader.MessageIntegrityOffset, key);
    }

    public bool VerifyMessageIntegritySha256(byte[] key)
    {
        StunMessageReader reader = Reader;
        return reader.HasMessageIntegritySha256 && StunIntegrity.VerifyMessageIntegritySha256(Bytes, reader.MessageIntegritySha256Offset, key);
    }

    public bool VerifyFingerprint()
    {
        StunMessageReader reader = Reader;
        return reader.HasFingerprint && StunIntegrity.VerifyFingerprint(Bytes, reader.FingerprintOffset);
    }

    public string Describe() =>
        $"{Method} {Class}{(ErrorCode != 0 ? " " + ErrorCode : "")} [{string.Join(", ", AttributeTypes.Select(t => $"0x{t:X4}"))}]";

    public override string ToString() => Describe();
}
