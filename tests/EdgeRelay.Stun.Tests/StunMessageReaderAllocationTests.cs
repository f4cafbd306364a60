namespace EdgeRelay.Stun.Tests;

/// <summary>DESIGN.md: "no allocation on the parse path".</summary>
public class StunMessageReaderAllocationTests
{
    [Fact]
    public void Parsing_and_walking_attributes_allocates_nothing()
    {
        byte[][] messages =
        [
            TestVectors.Rfc5769SampleRequest, TestVectors.Rfc5769IPv4Response, TestVectors.Rfc5769IPv6Response,
            TestVectors.Rfc5769LongTermRequest, TestVectors.Rfc8489Sha256Request,
        ];
        Span<ushort> unknown = stackalloc ushort[8];
        long checksum = ParseAll(messages, unknown); // warm-up: JIT, static tables

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            checksum += ParseAll(messages, unknown);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(1001 * ParseAll(messages, unknown), checksum); // the loop did the work
    }

    private static long ParseAll(byte[][] messages, Span<ushort> unknown)
    {
        long sum = 0;
        foreach (byte[] message in messages)
        {
            if (StunMessageReader.TryParse(message, out StunMessageReader reader) != StunParseError.None)
            {
                return -1_000_000;
            }
            foreach (StunAttribute attribute in reader)
            {
                sum += attribute.Type + attribute.Value.Length + attribute.Offset;
            }
            if (reader.TryGetXorAddress(StunAttributeType.XorMappedAddress, out TransportAddress address))
            {
                sum += address.Port;
            }
            sum += reader.CollectUnknownComprehensionRequired(unknown);
            sum += reader.TransactionId.GetHashCode() & 1;
            if (reader.HasFingerprint && StunIntegrity.VerifyFingerprint(message, reader.FingerprintOffset))
            {
                sum += 7;
            }
        }
        return sum;
    }
}
