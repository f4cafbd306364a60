namespace EdgeRelay.Stun.Tests;

/// <summary>RFC 8489 Appendix B.1 (with erratum 6268): USERHASH, PASSWORD-ALGORITHM and MESSAGE-INTEGRITY-SHA256.</summary>
public class Rfc8489AppendixBTests
{
    [Fact]
    public void Rfc8489_B1_request_decodes_and_verifies_with_the_SHA256_key()
    {
        byte[] message = TestVectors.Rfc8489Sha256Request;
        Assert.Equal(164, message.Length);
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));

        Assert.Equal(StunMethod.Binding, reader.Method);
        Assert.Equal(StunClass.Request, reader.Class);
        Assert.Equal(TestVectors.LongTermTransactionId, reader.TransactionIdBytes.ToArray());
        Assert.Equal(
        [
            ParsedAttribute.Of(StunAttributeType.Userhash, Hex.Of(TestVectors.LongTermUserhash), 20),
            ParsedAttribute.Text(StunAttributeType.Nonce, TestVectors.Rfc8489Nonce, 56),
            ParsedAttribute.Text(StunAttributeType.Realm, TestVectors.LongTermRealm, 104),
            ParsedAttribute.Of(StunAttributeType.PasswordAlgorithm, "00020000", 120),
            ParsedAttribute.Of(StunAttributeType.MessageIntegritySha256,
                "b5c7bf005b6c52a21c51c5e892f81924136296cb927c43149309278cc6518e65", 128),
        ], Parsed.Attributes(message));

        Assert.False(reader.HasMessageIntegrity);
        Assert.False(reader.HasFingerprint);
        Assert.Equal(128, reader.MessageIntegritySha256Offset);
        Assert.Equal(164, reader.AttributesEnd);

        Assert.True(reader.TryGetAttribute(StunAttributeType.Userhash, out ReadOnlySpan<byte> userhash));
        Assert.Equal(LongTermCredential.ComputeUserhash(TestVectors.LongTermUsername, TestVectors.LongTermRealm), userhash.ToArray());

        byte[] key = LongTermCredential.DeriveKey(PasswordAlgorithm.Sha256, TestVectors.LongTermUsername,
            TestVectors.LongTermRealm, TestVectors.LongTermPassword);
        Assert.Equal(TestVectors.LongTermSha256Key, key);
        Assert.True(StunIntegrity.VerifyMessageIntegritySha256(message, reader.MessageIntegritySha256Offset, key));

        // The same bytes are not a valid HMAC-SHA1, and the MD5 key does not verify them.
        Assert.False(StunIntegrity.VerifyMessageIntegrity(message, reader.MessageIntegritySha256Offset, key));
        Assert.False(StunIntegrity.VerifyMessageIntegritySha256(message, reader.MessageIntegritySha256Offset, TestVectors.LongTermMd5Key));
        Assert.Equal(0, reader.CollectUnknownComprehensionRequired(stackalloc ushort[4]));
    }
}
