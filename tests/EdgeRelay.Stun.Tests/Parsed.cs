using System.Text;

namespace EdgeRelay.Stun.Tests;

/// <summary>One attribute as the reader saw it, copied out of the span so that tests can compare lists.</summary>
internal readonly record struct ParsedAttribute(ushort Type, string ValueHex, int Offset)
{
    public static ParsedAttribute Of(StunAttributeType type, string valueHex, int offset) => new((ushort)type, valueHex, offset);

    public static ParsedAttribute Text(StunAttributeType type, string value, int offset) =>
        new((ushort)type, Hex.Of(Encoding.UTF8.GetBytes(value)), offset);
}

internal static class Parsed
{
    /// <summary>Parses <paramref name="message"/>, which must be valid, and lists the attributes that count.</summary>
    public static List<ParsedAttribute> Attributes(ReadOnlySpan<byte> message)
    {
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));
        var attributes = new List<ParsedAttribute>();
        foreach (StunAttribute attribute in reader)
        {
            attributes.Add(new ParsedAttribute(attribute.Type, Hex.Of(attribute.Value), attribute.Offset));
        }
        return attributes;
    }

    public static List<ushort> Types(ReadOnlySpan<byte> message) => Attributes(message).ConvertAll(a => a.Type);

    /// <summary>What a receiver does: parse, find MESSAGE-INTEGRITY, check it with the key.</summary>
    public static bool AcceptsMessageIntegrity(ReadOnlySpan<byte> message, ReadOnlySpan<byte> key) =>
        StunMessageReader.TryParse(message, out StunMessageReader reader) == StunParseError.None
        && reader.HasMessageIntegrity
        && StunIntegrity.VerifyMessageIntegrity(message, reader.MessageIntegrityOffset, key);

    public static bool AcceptsMessageIntegritySha256(ReadOnlySpan<byte> message, ReadOnlySpan<byte> key) =>
        StunMessageReader.TryParse(message, out StunMessageReader reader) == StunParseError.None
        && reader.HasMessageIntegritySha256
        && StunIntegrity.VerifyMessageIntegritySha256(message, reader.MessageIntegritySha256Offset, key);

    /// <summary>Either integrity attribute, whichever the message carries, verifies with the key.</summary>
    public static bool AcceptsAnyIntegrity(ReadOnlySpan<byte> message, ReadOnlySpan<byte> key) =>
        AcceptsMessageIntegrity(message, key) || AcceptsMessageIntegritySha256(message, key);

    public static bool AcceptsFingerprint(ReadOnlySpan<byte> message) =>
        StunMessageReader.TryParse(message, out StunMessageReader reader) == StunParseError.None
        && reader.HasFingerprint
        && StunIntegrity.VerifyFingerprint(message, reader.FingerprintOffset);

    /// <summary>End of the integrity attribute the vector carries: every byte before it is covered by the HMAC.</summary>
    public static int IntegrityEnd(ReadOnlySpan<byte> message)
    {
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));
        int offset = reader.HasMessageIntegritySha256 ? reader.MessageIntegritySha256Offset : reader.MessageIntegrityOffset;
        Assert.True(offset >= StunConstants.HeaderLength);
        return offset + StunConstants.AttributeHeaderLength + (reader.HasMessageIntegritySha256
            ? StunConstants.MessageIntegritySha256Length
            : StunConstants.MessageIntegrityLength);
    }
}
