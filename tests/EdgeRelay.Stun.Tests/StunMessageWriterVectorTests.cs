using System.Net;
using System.Text;

namespace EdgeRelay.Stun.Tests;

/// <summary>
/// The writer rebuilds every published vector byte for byte. RFC 5769 §2.1-§2.3 pad SOFTWARE and
/// USERNAME with spaces where our writer pads with zeros; the padding is covered by the HMAC and the
/// CRC, so those tests put the vector's padding bytes into the buffer before the integrity attributes
/// are computed, and then compare the whole message.
/// </summary>
public class StunMessageWriterVectorTests
{
    private const StunAttributeType Priority = (StunAttributeType)0x0024;
    private const StunAttributeType IceControlled = (StunAttributeType)0x8029;

    /// <summary>Overwrites the padding of the attribute just written (it ends at <paramref name="messageLength"/>).</summary>
    private static void PadWith(byte[] buffer, int messageLength, int valueLength, byte padding)
    {
        int count = StunPadding.Pad4(valueLength) - valueLength;
        Assert.True(buffer.AsSpan(messageLength - count, count).IndexOfAnyExcept((byte)0) < 0, "the writer zero-pads");
        buffer.AsSpan(messageLength - count, count).Fill(padding);
    }

    [Fact]
    public void Rfc5769_sample_request_is_rebuilt_byte_for_byte()
    {
        byte[] buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TestVectors.Rfc5769TransactionId);
        writer.AddString(StunAttributeType.Software, "STUN test client");
        writer.AddUInt32(Priority, 0x6e0001ff);
        writer.AddAttribute(IceControlled, Hex.Bytes("932ff9b151263b36"));
        writer.AddString(StunAttributeType.Username, "evtj:h6vY");
        PadWith(buffer, writer.Length, "evtj:h6vY".Length, 0x20);
        writer.AddMessageIntegrity(TestVectors.ShortTermKey);
        writer.AddFingerprint();

        Assert.Equal(Hex.Of(TestVectors.Rfc5769SampleRequest), Hex.Of(writer.Written));
    }

    [Fact]
    public void Rfc5769_IPv4_response_is_rebuilt_byte_for_byte()
    {
        Assert.Equal(Hex.Of(TestVectors.Rfc5769IPv4Response), Hex.Of(BuildRfc5769Response("192.0.2.1", softwarePadding: 0x20)));
    }

    [Fact]
    public void Rfc5769_IPv6_response_is_rebuilt_byte_for_byte()
    {
        Assert.Equal(Hex.Of(TestVectors.Rfc5769IPv6Response),
            Hex.Of(BuildRfc5769Response("2001:db8:1234:5678:11:2233:4455:6677", softwarePadding: 0x20)));
    }

    [Fact]
    public void Padding_is_covered_so_zero_padding_changes_only_the_padding_the_integrity_and_the_fingerprint()
    {
        byte[] vector = TestVectors.Rfc5769IPv4Response;
        byte[] zeroPadded = BuildRfc5769Response("192.0.2.1", softwarePadding: 0x00);

        Assert.Equal(vector.Length, zeroPadded.Length);
        var differing = Enumerable.Range(0, vector.Length).Where(i => vector[i] != zeroPadded[i]).ToList();
        Assert.Contains(35, differing); // the one padding byte of SOFTWARE "test vector"
        Assert.All(differing, i => Assert.True(i == 35 || i is >= 52 and < 72 || i is >= 76 and < 80, $"byte {i} differs"));
        Assert.Contains(differing, i => i is >= 52 and < 72);
        Assert.Contains(differing, i => i is >= 76 and < 80);
        Assert.True(Parsed.AcceptsMessageIntegrity(zeroPadded, TestVectors.ShortTermKey));
        Assert.True(Parsed.AcceptsFingerprint(zeroPadded));
    }

    private static byte[] BuildRfc5769Response(string mappedAddress, byte softwarePadding)
    {
        byte[] buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.SuccessResponse, TestVectors.Rfc5769TransactionId);
        writer.AddString(StunAttributeType.Software, "test vector");
        PadWith(buffer, writer.Length, "test vector".Length, softwarePadding);
        writer.AddXorAddress(StunAttributeType.XorMappedAddress, TransportAddress.FromIPAddress(IPAddress.Parse(mappedAddress), 32853));
        writer.AddMessageIntegrity(TestVectors.ShortTermKey);
        writer.AddFingerprint();
        return writer.Written.ToArray();
    }

    [Fact]
    public void Rfc5769_long_term_request_is_rebuilt_byte_for_byte()
    {
        byte[] buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TestVectors.LongTermTransactionId);
        writer.AddString(StunAttributeType.Username, TestVectors.LongTermUsername);
        writer.AddString(StunAttributeType.Nonce, TestVectors.Rfc5769Nonce);
        writer.AddString(StunAttributeType.Realm, TestVectors.LongTermRealm);
        writer.AddMessageIntegrity(LongTermCredential.DeriveKey(PasswordAlgorithm.Md5,
            TestVectors.LongTermUsername, TestVectors.LongTermRealm, TestVectors.LongTermPassword));

        Assert.Equal(Hex.Of(TestVectors.Rfc5769LongTermRequest), Hex.Of(writer.Written));
    }

    [Fact]
    public void Rfc8489_B1_request_is_rebuilt_byte_for_byte()
    {
        byte[] buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TestVectors.LongTermTransactionId);
        writer.AddAttribute(StunAttributeType.Userhash,
            LongTermCredential.ComputeUserhash(TestVectors.LongTermUsername, TestVectors.LongTermRealm));
        writer.AddString(StunAttributeType.Nonce, TestVectors.Rfc8489Nonce);
        writer.AddString(StunAttributeType.Realm, TestVectors.LongTermRealm);
        Span<byte> algorithm = writer.AddAttribute(StunAttributeType.PasswordAlgorithm, 4);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(algorithm, (ushort)PasswordAlgorithm.Sha256);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(algorithm[2..], 0); // no parameters
        writer.AddMessageIntegritySha256(LongTermCredential.DeriveKey(PasswordAlgorithm.Sha256,
            TestVectors.LongTermUsername, TestVectors.LongTermRealm, TestVectors.LongTermPassword));

        Assert.Equal(Hex.Of(TestVectors.Rfc8489Sha256Request), Hex.Of(writer.Written));
    }

    [Fact]
    public void Utf8_username_is_written_as_its_18_bytes_with_2_zero_padding_bytes()
    {
        byte[] buffer = new byte[64];
        buffer.AsSpan().Fill(0xAA);
        var writer = new StunMessageWriter(buffer, StunMethod.Binding, StunClass.Request, TestVectors.LongTermTransactionId);
        writer.AddString(StunAttributeType.Username, TestVectors.LongTermUsername);

        Assert.Equal(20 + 4 + 20, writer.Length);
        Assert.Equal(Hex.Of(TestVectors.Rfc5769LongTermRequest.AsSpan(20, 24)), Hex.Of(writer.Written[20..]));
        Assert.Equal(Encoding.UTF8.GetBytes(TestVectors.LongTermUsername), writer.Written.Slice(24, 18).ToArray());
    }
}
