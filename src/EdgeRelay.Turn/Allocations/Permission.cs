using EdgeRelay.Stun;

namespace EdgeRelay.Turn.Allocations;

/// <summary>A permission for one peer IP address, whatever its port (RFC 8656 §9).</summary>
public sealed class Permission(TransportAddress peerAddress, long expiresAtMs)
{
    /// <summary>The peer's IP address; the port is always 0.</summary>
    public TransportAddress PeerAddress { get; } = peerAddress;

    public long ExpiresAtMs { get; internal set; } = expiresAtMs;

    public bool IsValid(long nowMs) => nowMs < ExpiresAtMs;
}
