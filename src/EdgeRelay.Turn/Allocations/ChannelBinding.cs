using EdgeRelay.Stun;

namespace EdgeRelay.Turn.Allocations;

/// <summary>
/// A channel number bound to a peer transport address (RFC 8656 §12). It holds its permission so that
/// the ChannelData path checks both with two comparisons and no lookup.
/// </summary>
public sealed class ChannelBinding(ushort channelNumber, TransportAddress peer, Permission permission, long expiresAtMs)
{
    public ushort ChannelNumber { get; } = channelNumber;
    public TransportAddress Peer { get; } = peer;
    public Permission Permission { get; } = permission;
    public long ExpiresAtMs { get; internal set; } = expiresAtMs;

    /// <summary>Relaying needs a live binding and a live permission (§12.3, §12.6).</summary>
    public bool CanRelay(long nowMs) => nowMs < ExpiresAtMs && Permission.IsValid(nowMs);
}
