using BenchmarkDotNet.Attributes;
using EdgeRelay.Stun;

namespace EdgeRelay.Benchmarks.Stun;

/// <summary>
/// StunMessageReader.TryParse and a walk over every attribute, as the core does before it looks at any:
/// the RFC 5769 §2.1 ICE Binding request (108 bytes) and an authenticated Allocate request (152 bytes).
/// </summary>
[MemoryDiagnoser]
public class StunParseBenchmarks
{
    private byte[] _rfc5769Request = [];
    private byte[] _allocateRequest = [];

    [GlobalSetup]
    public void Setup()
    {
        _rfc5769Request = StunSamples.Rfc5769SampleRequest;
        _allocateRequest = StunSamples.AllocateRequest(StunSamples.TransactionId(1), RequestSigning.MessageIntegrity);
        BenchmarkSetupException.ThrowUnless(_rfc5769Request.Length == 108 && _allocateRequest.Length == 152, "the sizes the documentation gives");
        BenchmarkSetupException.ThrowUnless(Rfc5769Request() >> 16 == 6, "the RFC 5769 request parses into 6 attributes");
        BenchmarkSetupException.ThrowUnless(AuthenticatedAllocateRequest() >> 16 == 6, "the Allocate request parses into 6 attributes");
    }

    [Benchmark]
    public int Rfc5769Request() => ParseAndWalk(_rfc5769Request);

    [Benchmark]
    public int AuthenticatedAllocateRequest() => ParseAndWalk(_allocateRequest);

    /// <summary>
    /// Parses and touches every attribute's type and value length. Returns the attribute count in the upper
    /// 16 bits and a checksum of what was read in the lower 16 (so the JIT cannot drop the reads), or -1.
    /// </summary>
    internal static int ParseAndWalk(ReadOnlySpan<byte> message)
    {
        if (StunMessageReader.TryParse(message, out StunMessageReader reader) != StunParseError.None)
        {
            return -1;
        }
        int count = 0;
        int checksum = 0;
        foreach (StunAttribute attribute in reader)
        {
            count++;
            checksum += attribute.Type ^ attribute.Value.Length;
        }
        return (count << 16) | (checksum & 0xFFFF);
    }
}
