using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Turn;

public sealed partial class TurnServer
{
    /// <summary>RFC 8656 §8.2: receiving a Refresh request.</summary>
    private int HandleRefreshRequest(in FiveTuple fiveTuple, in StunMessageReader request, in AuthContext auth, Span<byte> response, long now)
    {
        int error = FindOwnAllocation(fiveTuple, auth, out Allocation? allocation);
        if (error != 0)
        {
            return WriteError(response, request, error, auth);
        }
        if (request.TryGetAttribute(StunAttributeType.RequestedAddressFamily, out ReadOnlySpan<byte> family)
            && (family.Length != 4 || allocation!.GetRelay((StunAddressFamily)family[0]) is null))
        {
            return WriteError(response, request, StunErrorCode.PeerAddressFamilyMismatch, auth);
        }

        uint lifetimeSeconds;
        if (request.TryGetUInt32(StunAttributeType.Lifetime, out uint requested) && requested == 0)
        {
            DeleteAllocation(allocation!, "deleted by client");
            lifetimeSeconds = 0;
        }
        else
        {
            long lifetime = ComputeLifetime(request);
            allocation!.ExpiresAtMs = now + lifetime;
            lifetimeSeconds = (uint)(lifetime / 1000);
        }

        var writer = BeginSuccess(response, request);
        writer.AddUInt32(StunAttributeType.Lifetime, lifetimeSeconds);
        writer.AddString(StunAttributeType.Software, Software);
        return Finish(ref writer, request, auth);
    }

    /// <summary>
    /// RFC 8656 §5: a request other than Allocate needs the five-tuple's allocation (else 437), made by
    /// the same user (else 441).
    /// </summary>
    private int FindOwnAllocation(in FiveTuple fiveTuple, in AuthContext auth, out Allocation? allocation)
    {
        if (!_allocations.TryGetValue(fiveTuple, out allocation) || !allocation.IsAlive(_clock.NowMs))
        {
            return StunErrorCode.AllocationMismatch;
        }
        if (!string.Equals(allocation.Username, auth.Username, StringComparison.Ordinal))
        {
            return StunErrorCode.WrongCredentials;
        }
        return 0;
    }
}
