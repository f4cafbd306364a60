using System.Net;

namespace EdgeRelay.Stun.Tests;

/// <summary>RFC 5769 §2: the sample messages decode to what the RFC says they hold, and their integrity checks out.</summary>
public class Rfc5769Tests
{
    private const ushort Priority = 0x0024;
    private const ushort IceControlled = 0x8029;

    [Fact]
    public void Rfc5769_sample_request_decodes_and_verifies()
    {
        byte[] message = TestVectors.Rfc5769SampleRequest;
        Assert.Equal(108, message.Length);
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));

        Assert.Equal(StunMethod.Binding, reader.Method);
        Assert.Equal(StunClass.Request, reader.Class);
        Assert.Equal((ushort)0x0001, reader.MessageType);
        Assert.Equal(TestVectors.Rfc5769TransactionId, reader.TransactionIdBytes.ToArray());
        Assert.Equal("b7e7a701bc34d686fa87dfae", reader.TransactionId.ToString());

        Assert.Equal(
        [
            ParsedAttribute.Text(StunAttributeType.Software, "STUN test client", 20),
            new ParsedAttribute(Priority, "6e0001ff", 40),
            new ParsedAttribute(IceControlled, "932ff9b151263b36", 48),
            ParsedAttribute.Text(StunAttributeType.Username, "evtj:h6vY", 60),
            ParsedAttribute.Of(StunAttributeType.MessageIntegrity, "9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a2", 76),
            ParsedAttribute.Of(StunAttributeType.Fingerprint, "e57a3bcf", 100),
        ], Parsed.Attributes(message));

        Assert.Equal(108, reader.AttributesEnd);
        Assert.Equal(76, reader.MessageIntegrityOffset);
        Assert.False(reader.HasMessageIntegritySha256);
        Assert.Equal(100, reader.FingerprintOffset);
        Assert.True(reader.TryGetUInt32((StunAttributeType)Priority, out uint priority));
        Assert.Equal(0x6e0001ffu, priority);

        Assert.True(StunIntegrity.VerifyMessageIntegrity(message, reader.MessageIntegrityOffset, TestVectors.ShortTermKey));
        Assert.True(StunIntegrity.VerifyFingerprint(message, reader.FingerprintOffset));

        // PRIORITY (0x0024) is comprehension-required and not a STUN/TURN attribute this server knows.
        Span<ushort> unknown = stackalloc ushort[4];
        Assert.Equal(1, reader.CollectUnknownComprehensionRequired(unknown));
        Assert.Equal(Priority, unknown[0]);
    }

    [Fact]
    public void Rfc5769_IPv4_response_decodes_to_192_0_2_1_port_32853_and_verifies()
    {
        byte[] message = TestVectors.Rfc5769IPv4Response;
        Assert.Equal(80, message.Length);
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));

        Assert.Equal(StunMethod.Binding, reader.Method);
        Assert.Equal(StunClass.SuccessResponse, reader.Class);
        Assert.Equal(TestVectors.Rfc5769TransactionId, reader.TransactionIdBytes.ToArray());
        Assert.Equal(
        [
            ParsedAttribute.Text(StunAttributeType.Software, "test vector", 20),
            ParsedAttribute.Of(StunAttributeType.XorMappedAddress, "0001a147e112a643", 36),
            ParsedAttribute.Of(StunAttributeType.MessageIntegrity, "2b91f599fd9e90c38c7489f92af9ba53f06be7d7", 48),
            ParsedAttribute.Of(StunAttributeType.Fingerprint, "c07d4c96", 72),
        ], Parsed.Attributes(message));

        Assert.True(reader.TryGetXorAddress(StunAttributeType.XorMappedAddress, out TransportAddress mapped));
        Assert.Equal(TransportAddress.FromIPAddress(IPAddress.Parse("192.0.2.1"), 32853), mapped);
        Assert.Equal(StunAddressFamily.IPv4, mapped.Family);
        Assert.Equal("192.0.2.1:32853", mapped.ToString());
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 32853), mapped.ToIPEndPoint());

        Assert.True(StunIntegrity.VerifyMessageIntegrity(message, reader.MessageIntegrityOffset, TestVectors.ShortTermKey));
        Assert.True(StunIntegrity.VerifyFingerprint(message, reader.FingerprintOffset));
        Assert.Equal(0, reader.CollectUnknownComprehensionRequired(stackalloc ushort[4]));
    }

    [Fact]
    public void Rfc5769_IPv6_response_decodes_to_2001_db8_1234_5678_11_2233_4455_6677_port_32853_and_verifies()
    {
        byte[] message = TestVectors.Rfc5769IPv6Response;
        Assert.Equal(92, message.Length);
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));

        Assert.Equal(StunMethod.Binding, reader.Method);
        Assert.Equal(StunClass.SuccessResponse, reader.Class);
        Assert.Equal(TestVectors.Rfc5769TransactionId, reader.TransactionIdBytes.ToArray());
        Assert.Equal(
        [
            ParsedAttribute.Text(StunAttributeType.Software, "test vector", 20),
            ParsedAttribute.Of(StunAttributeType.XorMappedAddress, "0002a1470113a9faa5d3f179bc25f4b5bed2b9d9", 36),
            ParsedAttribute.Of(StunAttributeType.MessageIntegrity, "a382954e4be67bf11784c97c8292c275bfe3ed41", 60),
            ParsedAttribute.Of(StunAttributeType.Fingerprint, "c8fb0b4c", 84),
        ], Parsed.Attributes(message));

        Assert.True(reader.TryGetXorAddress(StunAttributeType.XorMappedAddress, out TransportAddress mapped));
        Assert.Equal(TransportAddress.FromIPAddress(IPAddress.Parse("2001:db8:1234:5678:11:2233:4455:6677"), 32853), mapped);
        Assert.Equal(StunAddressFamily.IPv6, mapped.Family);
        Assert.Equal("[2001:db8:1234:5678:11:2233:4455:6677]:32853", mapped.ToString());

        Assert.True(StunIntegrity.VerifyMessageIntegrity(message, reader.MessageIntegrityOffset, TestVectors.ShortTermKey));
        Assert.True(StunIntegrity.VerifyFingerprint(message, reader.FingerprintOffset));
    }

    [Fact]
    public void Rfc5769_long_term_request_decodes_and_verifies_with_the_MD5_key()
    {
        byte[] message = TestVectors.Rfc5769LongTermRequest;
        Assert.Equal(116, message.Length);
        Assert.Equal(StunParseError.None, StunMessageReader.TryParse(message, out StunMessageReader reader));

        Assert.Equal(StunMethod.Binding, reader.Method);
        Assert.Equal(StunClass.Request, reader.Class);
        Assert.Equal(TestVectors.LongTermTransactionId, reader.TransactionIdBytes.ToArray());
        Assert.Equal("78ad3433c6ad72c029da412e", reader.TransactionId.ToString());
        Assert.Equal(
        [
            ParsedAttribute.Text(StunAttributeType.Username, TestVectors.LongTermUsername, 20),
            ParsedAttribute.Text(StunAttributeType.Nonce, TestVectors.Rfc5769Nonce, 44),
            ParsedAttribute.Text(StunAttributeType.Realm, TestVectors.LongTermRealm, 76),
            ParsedAttribute.Of(StunAttributeType.MessageIntegrity, "f67024656dd64a3e02b8e0712e85c9a28ca89666", 92),
        ], Parsed.Attributes(message));
        Assert.False(reader.HasFingerprint);
        Assert.False(reader.HasMessageIntegritySha256);

        byte[] key = LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, TestVectors.LongTermUsername,
            TestVectors.LongTermRealm, TestVectors.LongTermPassword);
        Assert.Equal(TestVectors.LongTermMd5Key, key);
        Assert.True(StunIntegrity.VerifyMessageIntegrity(message, reader.MessageIntegrityOffset, key));
        Assert.Equal(0, reader.CollectUnknownComprehensionRequired(stackalloc ushort[4]));
    }
}
