using BenchmarkDotNet.Attributes;
using EdgeRelay.Stun;

namespace EdgeRelay.Benchmarks.Stun;

/// <summary>
/// StunMessageWriter building the responses the server sends most: a Binding success (XOR-MAPPED-ADDRESS,
/// FINGERPRINT), and an Allocate success (XOR-RELAYED-ADDRESS, LIFETIME, XOR-MAPPED-ADDRESS, SOFTWARE)
/// signed with MESSAGE-INTEGRITY (HMAC-SHA1) or MESSAGE-INTEGRITY-SHA256, then FINGERPRINT.
/// </summary>
[MemoryDiagnoser]
public class StunBuildBenchmarks
{
    private readonly byte[] _buffer = new byte[2048];
    private byte[] _transactionId = [];
    private byte[] _md5Key = [];
    private byte[] _sha256Key = [];

    [GlobalSetup]
    public void Setup()
    {
        _transactionId = StunSamples.TransactionId(2);
        _md5Key = StunSamples.Md5Key;
        _sha256Key = StunSamples.Sha256Key;
        Check(BindingSuccess(), 20 + 12 + 8, sha256: null);
        Check(AllocateSuccessMessageIntegrity(), 20 + 12 + 8 + 12 + 16 + 24 + 8, sha256: false);
        Check(AllocateSuccessMessageIntegritySha256(), 20 + 12 + 8 + 12 + 16 + 36 + 8, sha256: true);
    }

    private void Check(int length, int expected, bool? sha256)
    {
        BenchmarkSetupException.ThrowUnless(length == expected, $"a {expected}-byte response, not {length}");
        ReadOnlySpan<byte> written = _buffer.AsSpan(0, length);
        BenchmarkSetupException.ThrowUnless(StunMessageReader.TryParse(written, out StunMessageReader reader) == StunParseError.None
            && StunIntegrity.VerifyFingerprint(written, reader.FingerprintOffset), "the response parses and its FINGERPRINT matches");
        if (sha256 is { } useSha256)
        {
            BenchmarkSetupException.ThrowUnless(useSha256
                ? StunIntegrity.VerifyMessageIntegritySha256(written, reader.MessageIntegritySha256Offset, _sha256Key)
                : StunIntegrity.VerifyMessageIntegrity(written, reader.MessageIntegrityOffset, _md5Key), "the response's integrity verifies");
        }
    }

    [Benchmark]
    public int BindingSuccess()
    {
        var writer = new StunMessageWriter(_buffer, StunMethod.Binding, StunClass.SuccessResponse, _transactionId);
        writer.AddXorAddress(StunAttributeType.XorMappedAddress, StunSamples.Client);
        writer.AddFingerprint();
        return writer.Length;
    }

    [Benchmark]
    public int AllocateSuccessMessageIntegrity()
    {
        var writer = BeginAllocateSuccess();
        writer.AddMessageIntegrity(_md5Key);
        writer.AddFingerprint();
        return writer.Length;
    }

    [Benchmark]
    public int AllocateSuccessMessageIntegritySha256()
    {
        var writer = BeginAllocateSuccess();
        writer.AddMessageIntegritySha256(_sha256Key);
        writer.AddFingerprint();
        return writer.Length;
    }

    /// <summary>What TurnServer.HandleAllocateRequest writes before it signs (RFC 8656 §7.2).</summary>
    private StunMessageWriter BeginAllocateSuccess()
    {
        var writer = new StunMessageWriter(_buffer, StunMethod.Allocate, StunClass.SuccessResponse, _transactionId);
        writer.AddXorAddress(StunAttributeType.XorRelayedAddress, StunSamples.RelayedAddress);
        writer.AddUInt32(StunAttributeType.Lifetime, 600);
        writer.AddXorAddress(StunAttributeType.XorMappedAddress, StunSamples.Client);
        writer.AddString(StunAttributeType.Software, StunSamples.Software);
        return writer;
    }
}
