using System.Buffers.Binary;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Allocations;

namespace EdgeRelay.Turn;

public sealed partial class TurnServer
{
    /// <summary>RFC 8656 §12.2: receiving a ChannelBind request.</summary>
    private int HandleChannelBindRequest(in FiveTuple fiveTuple, in StunMessageReader request, in AuthContext auth,
        Span<byte> response, long now)
    {
        int error = FindOwnAllocation(fiveTuple, auth, out Allocation? allocation);
        if (error != 0)
        {
            return WriteError(response, request, error, auth);
        }
        if (!request.TryGetAttribute(StunAttributeType.ChannelNumber, out ReadOnlySpan<byte> number) || number.Length != 4
            || !request.TryGetXorAddress(StunAttributeType.XorPeerAddress, out TransportAddress peer))
        {
            return WriteError(response, request, StunErrorCode.BadRequest, auth);
        }
        ushort channel = BinaryPrimitives.ReadUInt16BigEndian(number);
        if (!ChannelData.IsValidChannelNumber(channel))
        {
            return WriteError(response, request, StunErrorCode.BadRequest, auth);
        }

        // A number stays with its peer, and a peer with its number, for the binding's life and the
        // five minutes after it (the binding is only pruned after that).
        ChannelBinding? byNumber = allocation!.FindChannel(channel);
        ChannelBinding? byPeer = allocation.FindChannel(peer);
        if ((byNumber is not null && byNumber.Peer != peer) || (byPeer is not null && byPeer.ChannelNumber != channel))
        {
            return WriteError(response, request, StunErrorCode.BadRequest, auth);
        }

        error = CheckPeer(allocation, peer);
        if (error != 0)
        {
            return WriteError(response, request, error, auth);
        }
        if (byNumber is null && allocation.ChannelCount >= _options.MaxChannelsPerAllocation)
        {
            Counters.CountQuotaRejection(Quota.ChannelsPerAllocation);
            return WriteError(response, request, StunErrorCode.InsufficientCapacity, auth);
        }

        // The binding installs or refreshes the permission for the peer's address as well (§12.2), and a
        // new one counts against the same limit as CreatePermission's.
        bool newPermission = allocation.FindPermission(peer) is null;
        if (newPermission && allocation.PermissionCount >= _options.MaxPermissionsPerAllocation)
        {
            Counters.CountQuotaRejection(Quota.PermissionsPerAllocation);
            return WriteError(response, request, StunErrorCode.InsufficientCapacity, auth);
        }
        Permission permission = allocation.InstallOrRefreshPermission(peer, now + Lifetime(_options.PermissionLifetime), _options.PeerPolicy.GetPortRestriction(peer));
        if (newPermission)
        {
            Counters.PermissionsCreated++;
        }
        long expiresAt = now + Lifetime(_options.ChannelLifetime);
        if (byNumber is null)
        {
            allocation.AddChannel(new ChannelBinding(channel, peer, permission, expiresAt));
            Counters.ChannelsBound++;
        }
        else
        {
            byNumber.ExpiresAtMs = expiresAt;
        }

        var writer = BeginSuccess(response, request);
        return Finish(ref writer, request, auth);
    }
}
