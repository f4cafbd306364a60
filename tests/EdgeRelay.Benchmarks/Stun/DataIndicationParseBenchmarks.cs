using BenchmarkDotNet.Attributes;

namespace EdgeRelay.Benchmarks.Stun;

/// <summary>
/// StunMessageReader.TryParse and the attribute walk of a Data indication as the server writes it
/// (XOR-PEER-ADDRESS and DATA), which is what a client parses for every packet relayed without a channel.
/// </summary>
[MemoryDiagnoser]
public class DataIndicationParseBenchmarks
{
    private byte[] _indication = [];

    /// <summary>A small media packet (audio, RTCP) and one near the usual WebRTC MTU budget.</summary>
    [Params(100, 1200)]
    public int PayloadLength { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _indication = StunSamples.DataIndication(StunSamples.IndicationPeer, StunSamples.Payload(PayloadLength));
        // Header 20, XOR-PEER-ADDRESS (IPv4) 12, DATA 4 + the payload (100 and 1200 need no padding).
        BenchmarkSetupException.ThrowUnless(_indication.Length == 36 + PayloadLength, "a 136- or 1236-byte Data indication");
        BenchmarkSetupException.ThrowUnless(DataIndication() >> 16 == 2, "the Data indication parses into 2 attributes");
    }

    [Benchmark]
    public int DataIndication() => StunParseBenchmarks.ParseAndWalk(_indication);
}
