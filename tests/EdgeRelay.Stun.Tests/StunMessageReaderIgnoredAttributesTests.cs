namespace EdgeRelay.Stun.Tests;

public sealed class StunMessageReaderIgnoredAttributesTests
{
    [Fact]
    public void Fingerprint_after_an_attribute_that_follows_message_integrity_still_counts()
    {
        byte[] key = "key"u8.ToArray();
        var buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, new byte[12]);
        writer.AddString(StunAttributeType.Username, "user");
        writer.AddMessageIntegrity(key);
        writer.AddString(StunAttributeType.Software, "ignored after MESSAGE-INTEGRITY");
        writer.AddFingerprint();
        byte[] message = buffer[..writer.Length];

        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));
        // RFC 8489 §14.5: SOFTWARE after MESSAGE-INTEGRITY is ignored, FINGERPRINT is not.
        Assert.False(reader.HasAttribute(StunAttributeType.Software));
        Assert.True(reader.HasAttribute(StunAttributeType.Username));
        Assert.True(reader.HasFingerprint);
        Assert.True(StunIntegrity.VerifyFingerprint(message, reader.FingerprintOffset));
        Assert.True(StunIntegrity.VerifyMessageIntegrity(message, reader.MessageIntegrityOffset, key));
    }
}
