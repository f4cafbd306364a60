namespace EdgeRelay.Turn.Policy;

/// <summary>Why a peer address was allowed or refused; the refusals are counted and logged by reason.</summary>
public enum PeerDecision : byte
{
    Allowed,
    AllowedByConfiguration,
    AllowedOwnRelay,
    RefusedNotGlobal,
    RefusedLoopback,
    RefusedDenied,
    RefusedOwnService,
    RefusedUnspecified,
}

public static class PeerDecisionExtensions
{
    public static bool IsAllowed(this PeerDecision decision) => decision <= PeerDecision.AllowedOwnRelay;
}
