using EdgeRelay.Turn.Auth;
using EdgeRelay.Turn.Policy;
using Microsoft.Extensions.Logging;

namespace EdgeRelay.Turn;

/// <summary>
/// The core's log lines, source-generated so that nothing is formatted unless the level is on. None of
/// them carries a password, key or nonce.
/// </summary>
internal static partial class TurnLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information,
        Message = "Allocation created: client {FiveTuple}, user '{Username}', relayed {Relayed}, lifetime {LifetimeSeconds} s")]
    public static partial void AllocationCreated(ILogger logger, string fiveTuple, string username, string relayed, long lifetimeSeconds);

    /// <summary>RFC 8656 §21.3.2: the client's address and the permissions it installed, for forensic tracing.</summary>
    [LoggerMessage(EventId = 101, Level = LogLevel.Information,
        Message = "Allocation ended ({Reason}): client {FiveTuple}, user '{Username}', relayed {Relayed}, permissions [{Permissions}], channels {Channels}, to peers {PacketsToPeers} packets/{BytesToPeers} bytes, from peers {PacketsFromPeers} packets/{BytesFromPeers} bytes, duration {DurationSeconds} s")]
    public static partial void AllocationEnded(ILogger logger, string reason, string fiveTuple, string username, string relayed,
        string permissions, int channels, long packetsToPeers, long bytesToPeers, long packetsFromPeers, long bytesFromPeers, long durationSeconds);

    [LoggerMessage(EventId = 110, Level = LogLevel.Debug, Message = "Authentication failed for {Client} ({Reason}), user '{Username}'")]
    public static partial void AuthenticationFailed(ILogger logger, string client, AuthFailure reason, string username);

    [LoggerMessage(EventId = 112, Level = LogLevel.Warning,
        Message = "TURN REST credential refused ({Reason}) while the clock is not trusted: it expires at {Expiry:u}, the relay's best time is {Now:u} ({Source}). If the credential is right, the clock is wrong: see D11 on the status page")]
    public static partial void RestRefusedByClock(ILogger logger, AuthFailure reason, DateTimeOffset expiry, DateTimeOffset now, string source);

    [LoggerMessage(EventId = 111, Level = LogLevel.Information, Message = "Peer {Peer} refused for user '{Username}' ({Decision})")]
    public static partial void PeerRefused(ILogger logger, string peer, string username, PeerDecision decision);

    [LoggerMessage(EventId = 120, Level = LogLevel.Warning, Message = "No relay port could be bound in {First}-{Last} ({InUse} in use)")]
    public static partial void RelayPortsExhausted(ILogger logger, int first, int last, int inUse);

    [LoggerMessage(EventId = 121, Level = LogLevel.Warning, Message = "Allocation refused for user '{Username}': {Reason}")]
    public static partial void AllocationRefused(ILogger logger, string username, string reason);

    [LoggerMessage(EventId = 122, Level = LogLevel.Debug, Message = "Allocation for user '{Username}' sent to {Alternate} (300 Try Alternate): {Reason}")]
    public static partial void AllocationRedirected(ILogger logger, string username, EdgeRelay.Stun.TransportAddress alternate, string reason);

    [LoggerMessage(EventId = 130, Level = LogLevel.Information,
        Message = "Configuration applied: realm '{Realm}', {Users} users, {SharedSecrets} shared secrets, relay ports {First}-{Last} ({PortsInUse} of them held by live allocations); {Allocations} allocations continue")]
    public static partial void Reconfigured(ILogger logger, string realm, int users, int sharedSecrets, int first, int last, int portsInUse, int allocations);
}
