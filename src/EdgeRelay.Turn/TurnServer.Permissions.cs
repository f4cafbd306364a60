using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Turn;

public sealed partial class TurnServer
{
    /// <summary>
    /// RFC 8656 §10.2: receiving a CreatePermission request. Every XOR-PEER-ADDRESS is checked before any
    /// permission is installed, so that a refused peer leaves none of the others behind.
    /// </summary>
    private int HandleCreatePermissionRequest(in FiveTuple fiveTuple, in StunMessageReader request, in AuthContext auth,
        Span<byte> response, long now)
    {
        int error = FindOwnAllocation(fiveTuple, auth, out Allocation? allocation);
        if (error != 0)
        {
            return WriteError(response, request, error, auth);
        }

        int peers = 0;
        int newPeers = 0;
        // Permissions are per IP address (§9): two XOR-PEER-ADDRESS of one IP make one new permission.
        HashSet<TransportAddress>? newAddresses = null;
        foreach (StunAttribute attribute in request)
        {
            if (attribute.Type != (ushort)StunAttributeType.XorPeerAddress)
            {
                continue;
            }
            if (!StunAddressCodec.TryDecodeXor(attribute.Value, request.TransactionIdBytes, out TransportAddress peer))
            {
                return WriteError(response, request, StunErrorCode.BadRequest, auth);
            }
            error = CheckPeer(allocation!, peer);
            if (error != 0)
            {
                return WriteError(response, request, error, auth);
            }
            peers++;
            if (allocation!.FindPermission(peer) is null && (newAddresses ??= []).Add(peer.WithPort(0)))
            {
                newPeers++;
            }
        }
        if (peers == 0)
        {
            return WriteError(response, request, StunErrorCode.BadRequest, auth);
        }
        if (allocation!.PermissionCount + newPeers > _options.MaxPermissionsPerAllocation)
        {
            Counters.CountQuotaRejection(Quota.PermissionsPerAllocation);
            return WriteError(response, request, StunErrorCode.InsufficientCapacity, auth);
        }

        long expiresAt = now + Lifetime(_options.PermissionLifetime);
        foreach (StunAttribute attribute in request)
        {
            if (attribute.Type == (ushort)StunAttributeType.XorPeerAddress
                && StunAddressCodec.TryDecodeXor(attribute.Value, request.TransactionIdBytes, out TransportAddress peer))
            {
                allocation.InstallOrRefreshPermission(peer, expiresAt, _options.PeerPolicy.GetPortRestriction(peer));
            }
        }
        Counters.PermissionsCreated += newPeers;

        var writer = BeginSuccess(response, request);
        return Finish(ref writer, request, auth);
    }

    /// <summary>
    /// A peer must be of a relayed address's family (443, RFC 8656 §10.2 and §12.2) and allowed by the
    /// peer policy (403).
    /// </summary>
    private int CheckPeer(Allocation allocation, in TransportAddress peer)
    {
        if (allocation.GetRelay(peer.Family) is null)
        {
            return StunErrorCode.PeerAddressFamilyMismatch;
        }
        PeerDecision decision = _options.PeerPolicy.Evaluate(peer);
        if (!decision.IsAllowed())
        {
            Counters.CountPeerRefusal(decision);
            TurnLog.PeerRefused(_logger, peer.ToString(), allocation.Username, decision);
            return StunErrorCode.Forbidden;
        }
        return 0;
    }
}
