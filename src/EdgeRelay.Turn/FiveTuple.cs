using EdgeRelay.Stun;

namespace EdgeRelay.Turn;

/// <summary>
/// Client address, server address and transport: RFC 8656 §2 names an allocation by this five-tuple.
/// A value, so that looking up an allocation for a packet allocates nothing.
/// </summary>
public readonly record struct FiveTuple(TransportAddress Client, TransportAddress Server, TransportProtocol Protocol)
{
    public override string ToString() => $"{Protocol.ToString().ToLowerInvariant()} {Client} -> {Server}";
}
