using BenchmarkDotNet.Attributes;
using EdgeRelay.Stun;

namespace EdgeRelay.Benchmarks.Stun;

/// <summary>
/// StunIntegrity checks on an authenticated Refresh request (USERNAME, REALM, NONCE, LIFETIME): MESSAGE-INTEGRITY
/// with the MD5 long-term key (152 bytes), MESSAGE-INTEGRITY-SHA256 with the SHA-256 key (184 bytes), and
/// FINGERPRINT, which the core checks on every STUN message that carries one.
/// </summary>
[MemoryDiagnoser]
public class StunIntegrityBenchmarks
{
    private byte[] _request = [];
    private byte[] _requestSha256 = [];
    private byte[] _md5Key = [];
    private byte[] _sha256Key = [];
    private int _messageIntegrityOffset;
    private int _messageIntegritySha256Offset;
    private int _fingerprintOffset;

    [GlobalSetup]
    public void Setup()
    {
        _md5Key = StunSamples.Md5Key;
        _sha256Key = StunSamples.Sha256Key;
        _request = StunSamples.RefreshRequest(StunSamples.TransactionId(3), RequestSigning.MessageIntegrity);
        _requestSha256 = StunSamples.RefreshRequest(StunSamples.TransactionId(4), RequestSigning.MessageIntegritySha256);
        BenchmarkSetupException.ThrowUnless(_request.Length == 152 && _requestSha256.Length == 184, "the sizes the documentation gives");

        BenchmarkSetupException.ThrowUnless(StunMessageReader.TryParse(_request, out StunMessageReader reader) == StunParseError.None
            && reader.HasMessageIntegrity && reader.HasFingerprint, "the Refresh request parses with MESSAGE-INTEGRITY and FINGERPRINT");
        _messageIntegrityOffset = reader.MessageIntegrityOffset;
        _fingerprintOffset = reader.FingerprintOffset;
        BenchmarkSetupException.ThrowUnless(StunMessageReader.TryParse(_requestSha256, out reader) == StunParseError.None
            && reader.HasMessageIntegritySha256, "the SHA-256 Refresh request parses with MESSAGE-INTEGRITY-SHA256");
        _messageIntegritySha256Offset = reader.MessageIntegritySha256Offset;

        BenchmarkSetupException.ThrowUnless(VerifyMessageIntegrity() && VerifyMessageIntegritySha256() && VerifyFingerprint(),
            "every check passes on the sample requests, so the benchmarks time the full check");
    }

    [Benchmark]
    public bool VerifyMessageIntegrity() => StunIntegrity.VerifyMessageIntegrity(_request, _messageIntegrityOffset, _md5Key);

    [Benchmark]
    public bool VerifyMessageIntegritySha256() =>
        StunIntegrity.VerifyMessageIntegritySha256(_requestSha256, _messageIntegritySha256Offset, _sha256Key);

    [Benchmark]
    public bool VerifyFingerprint() => StunIntegrity.VerifyFingerprint(_request, _fingerprintOffset);
}
