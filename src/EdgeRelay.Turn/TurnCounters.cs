using EdgeRelay.Turn.Auth;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Turn;

/// <summary>
/// Running totals for whoever observes the relay (logs, the status page, /metrics). Written by the
/// core under its caller's serialisation; read from anywhere (64-bit reads are atomic on 64-bit targets).
/// </summary>
public sealed class TurnCounters
{
    private readonly long[] _authFailures = new long[Enum.GetValues<AuthFailure>().Length];
    private readonly long[] _peerRefusals = new long[Enum.GetValues<PeerDecision>().Length];
    private readonly long[] _quotaRejections = new long[Enum.GetValues<Quota>().Length];

    public long AllocationsCreated { get; internal set; }
    public long AllocationsEnded { get; internal set; }
    public long PermissionsCreated { get; internal set; }
    public long ChannelsBound { get; internal set; }
    public long PacketsToPeers { get; internal set; }
    public long BytesToPeers { get; internal set; }
    public long PacketsFromPeers { get; internal set; }
    public long BytesFromPeers { get; internal set; }
    public long CapacityRejections { get; internal set; }

    /// <summary>401/438 not sent: the client's address had its challenges for now (limits.challengesPerSecondPerAddress).</summary>
    public long ChallengesRateLimited { get; internal set; }

    /// <summary>Requests not answered: their user name had its failed logins for now (limits.failedLoginsPerMinutePerUser).</summary>
    public long LoginsRateLimited { get; internal set; }

    /// <summary>Requests on an allocation's five-tuple not answered: it had its requests for now (limits.requestsPerSecondPerAllocation).</summary>
    public long AllocationRequestsRateLimited { get; internal set; }

    /// <summary>Allocate answered 300 Try Alternate with an ALTERNATE-SERVER: draining, or at capacity.</summary>
    public long AllocationsRedirected { get; internal set; }
    public long MalformedPackets { get; internal set; }
    public long DroppedNoPermission { get; internal set; }
    public long DroppedNoAllocation { get; internal set; }
    public long BindingRequests { get; internal set; }

    public long GetAuthFailures(AuthFailure reason) => Volatile.Read(ref _authFailures[(int)reason]);
    public long GetPeerRefusals(PeerDecision reason) => Volatile.Read(ref _peerRefusals[(int)reason]);
    public long GetQuotaRejections(Quota quota) => Volatile.Read(ref _quotaRejections[(int)quota]);

    internal void CountAuthFailure(AuthFailure reason) => _authFailures[(int)reason]++;
    internal void CountPeerRefusal(PeerDecision reason) => _peerRefusals[(int)reason]++;
    internal void CountQuotaRejection(Quota quota) => _quotaRejections[(int)quota]++;
}
