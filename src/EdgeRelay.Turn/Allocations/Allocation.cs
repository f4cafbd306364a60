using EdgeRelay.Stun;
using EdgeRelay.Turn.Auth;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Turn.Allocations;

/// <summary>
/// One allocation (RFC 8656 §6): the client's five-tuple, its relayed transport address, the user that
/// made it, its lifetime, permissions and channels, and byte counts for the log line at its end.
/// </summary>
public sealed class Allocation
{
    // Sized lazily: most WebRTC allocations hold one or two permissions and at most one channel.
    private readonly Dictionary<TransportAddress, Permission> _permissions = new(2);
    private readonly Dictionary<ushort, ChannelBinding> _channelsByNumber = new(1);
    private readonly Dictionary<TransportAddress, ChannelBinding> _channelsByPeer = new(1);

    internal Allocation(FiveTuple fiveTuple, object? clientContext, string username, RelayedTransport relay,
        RelayedTransport? additionalRelay, long expiresAtMs, DateTimeOffset createdAt, long createdAtMs)
    {
        FiveTuple = fiveTuple;
        ClientContext = clientContext;
        Username = username;
        PrimaryRelay = relay;
        AdditionalRelay = additionalRelay;
        ExpiresAtMs = expiresAtMs;
        CreatedAt = createdAt;
        CreatedAtMs = createdAtMs;
    }

    public FiveTuple FiveTuple { get; }

    /// <summary>The socket layer's handle for the client side (listener or connection), kept for sending Data to the client.</summary>
    public object? ClientContext { get; }

    public string Username { get; }

    /// <summary>The relayed transport address of the family the client asked for (IPv4 unless REQUESTED-ADDRESS-FAMILY said IPv6).</summary>
    public RelayedTransport PrimaryRelay { get; }

    /// <summary>The IPv6 relayed transport address of a dual allocation (ADDITIONAL-ADDRESS-FAMILY), if any.</summary>
    public RelayedTransport? AdditionalRelay { get; }

    /// <summary>The primary relayed transport address as advertised in XOR-RELAYED-ADDRESS.</summary>
    public TransportAddress RelayedAddress => PrimaryRelay.RelayedAddress;

    /// <summary>Where the primary relay socket is bound; differs from <see cref="RelayedAddress"/> behind a 1:1 NAT.</summary>
    public TransportAddress BoundAddress => PrimaryRelay.BoundAddress;

    public IRelayEndpoint Relay => PrimaryRelay.Endpoint;

    /// <summary>The relayed transport address that talks to peers of <paramref name="family"/>, or null (443).</summary>
    public RelayedTransport? GetRelay(StunAddressFamily family) =>
        PrimaryRelay.Family == family ? PrimaryRelay
        : AdditionalRelay is not null && AdditionalRelay.Family == family ? AdditionalRelay
        : null;

    public IEnumerable<RelayedTransport> Relays => AdditionalRelay is null ? [PrimaryRelay] : [PrimaryRelay, AdditionalRelay];

    /// <summary>What is left of the requests this allocation's client may make now (TurnServer.RateLimits.cs).</summary>
    internal TokenBucket RequestBudget;

    public long ExpiresAtMs { get; internal set; }
    public DateTimeOffset CreatedAt { get; }

    /// <summary>When it was created on the monotonic clock (<see cref="TurnClock.NowMs"/>): its duration survives a step of the wall clock.</summary>
    public long CreatedAtMs { get; }
    public bool IsDeleted { get; internal set; }

    public long PacketsToPeers { get; internal set; }
    public long BytesToPeers { get; internal set; }
    public long PacketsFromPeers { get; internal set; }
    public long BytesFromPeers { get; internal set; }

    public int PermissionCount => _permissions.Count;
    public int ChannelCount => _channelsByNumber.Count;
    public IEnumerable<Permission> Permissions => _permissions.Values;
    public IEnumerable<ChannelBinding> Channels => _channelsByNumber.Values;

    public bool IsAlive(long nowMs) => !IsDeleted && nowMs < ExpiresAtMs;

    internal Permission? FindPermission(in TransportAddress peer) =>
        _permissions.TryGetValue(peer.WithPort(0), out Permission? permission) ? permission : null;

    internal Permission InstallOrRefreshPermission(in TransportAddress peer, long expiresAtMs, PortRestriction portRestriction)
    {
        TransportAddress key = peer.WithPort(0);
        if (_permissions.TryGetValue(key, out Permission? permission))
        {
            permission.ExpiresAtMs = expiresAtMs;
            return permission;
        }
        permission = new Permission(key, expiresAtMs, portRestriction);
        _permissions.Add(key, permission);
        return permission;
    }

    internal ChannelBinding? FindChannel(ushort channelNumber) =>
        _channelsByNumber.TryGetValue(channelNumber, out ChannelBinding? binding) ? binding : null;

    internal ChannelBinding? FindChannel(in TransportAddress peer) =>
        _channelsByPeer.TryGetValue(peer, out ChannelBinding? binding) ? binding : null;

    internal void AddChannel(ChannelBinding binding)
    {
        _channelsByNumber.Add(binding.ChannelNumber, binding);
        _channelsByPeer.Add(binding.Peer, binding);
    }

    /// <summary>
    /// Drops expired permissions, and channel bindings past their cool-down (RFC 8656 §12: a number or
    /// peer stays unavailable for 5 minutes after its binding expires).
    /// </summary>
    internal void Prune(long nowMs, long channelCooldownMs)
    {
        if (_channelsByNumber.Count > 0)
        {
            List<ChannelBinding>? gone = null;
            foreach (ChannelBinding binding in _channelsByNumber.Values)
            {
                if (nowMs >= binding.ExpiresAtMs + channelCooldownMs)
                {
                    (gone ??= []).Add(binding);
                }
            }
            foreach (ChannelBinding binding in gone ?? [])
            {
                _channelsByNumber.Remove(binding.ChannelNumber);
                _channelsByPeer.Remove(binding.Peer);
            }
        }
        if (_permissions.Count > 0)
        {
            List<TransportAddress>? gone = null;
            foreach ((TransportAddress key, Permission permission) in _permissions)
            {
                // A permission a channel still points at stays, so the channel sees the same object when refreshed.
                if (!permission.IsValid(nowMs) && !IsHeldByChannel(permission))
                {
                    (gone ??= []).Add(key);
                }
            }
            foreach (TransportAddress key in gone ?? [])
            {
                _permissions.Remove(key);
            }
        }
    }

    private bool IsHeldByChannel(Permission permission)
    {
        foreach (ChannelBinding binding in _channelsByNumber.Values)
        {
            if (ReferenceEquals(binding.Permission, permission))
            {
                return true;
            }
        }
        return false;
    }
}
