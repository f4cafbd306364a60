using EdgeRelay.Stun;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Turn.Allocations;

/// <summary>A permission for one peer IP address, whatever its port (RFC 8656 §9), within the policy's port restriction.</summary>
public sealed class Permission(TransportAddress peerAddress, long expiresAtMs, PortRestriction portRestriction)
{
    /// <summary>The peer's IP address; the port is always 0.</summary>
    public TransportAddress PeerAddress { get; } = peerAddress;

    /// <summary>Decided once, from the address, when the permission is installed.</summary>
    public PortRestriction PortRestriction { get; } = portRestriction;

    public long ExpiresAtMs { get; internal set; } = expiresAtMs;

    public bool IsValid(long nowMs) => nowMs < ExpiresAtMs;
}
