using System.Diagnostics.CodeAnalysis;
using System.Net;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Turn;

/// <summary>Everything the core needs to know, already validated by whoever loaded the configuration.</summary>
public sealed class TurnServerOptions
{
    public required string Realm { get; init; }

    /// <summary>
    /// Where IPv4 relay sockets bind (port ignored); 0.0.0.0 binds every interface. Null: no IPv4
    /// relaying (Allocate without REQUESTED-ADDRESS-FAMILY then gets 440, RFC 8656 §7.2 step 7).
    /// </summary>
    public IPAddress? RelayAddressIPv4 { get; init; }

    /// <summary>
    /// The IPv4 address put into XOR-RELAYED-ADDRESS: the public one when the box sits behind a 1:1 NAT.
    /// Defaults to <see cref="RelayAddressIPv4"/>.
    /// </summary>
    public IPAddress? AdvertisedRelayAddressIPv4 { get; init; }

    /// <summary>Where IPv6 relay sockets bind; null: no IPv6 relaying (440 for REQUESTED-ADDRESS-FAMILY IPv6).</summary>
    public IPAddress? RelayAddressIPv6 { get; init; }

    /// <summary>The IPv6 address put into XOR-RELAYED-ADDRESS; defaults to <see cref="RelayAddressIPv6"/>.</summary>
    public IPAddress? AdvertisedRelayAddressIPv6 { get; init; }

    public int RelayPortMin { get; init; } = 49152;
    public int RelayPortMax { get; init; } = 65535;

    public IReadOnlyDictionary<string, string> Users { get; init; } = new Dictionary<string, string>();
    public IReadOnlyList<string> SharedSecrets { get; init; } = [];

    /// <summary>Relaying without credentials: off unless the operator says so explicitly.</summary>
    public bool AllowAnonymous { get; init; }

    /// <summary>TURN REST user names whose expiry lies further ahead than this are refused.</summary>
    public TimeSpan RestMaxValidity { get; init; } = TimeSpan.FromHours(24);

    /// <summary>RFC 8656 §5: the server should expire nonces at least once an hour.</summary>
    public TimeSpan NonceLifetime { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>RFC 8656 §6.2: 600 s is the default lifetime; §7.2 recommends at most 3600 s.</summary>
    public TimeSpan DefaultLifetime { get; init; } = TimeSpan.FromSeconds(600);
    public TimeSpan MaxLifetime { get; init; } = TimeSpan.FromSeconds(3600);

    /// <summary>RFC 8656 §9: 300 s, fixed.</summary>
    public TimeSpan PermissionLifetime { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>RFC 8656 §12: 600 s.</summary>
    public TimeSpan ChannelLifetime { get; init; } = TimeSpan.FromSeconds(600);

    /// <summary>RFC 8656 §12: after a binding expires, its number and peer stay unavailable for 5 minutes.</summary>
    public TimeSpan ChannelCooldown { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>RFC 8656 §7.2: a port reserved by EVEN-PORT with R=1 is held at least 30 s.</summary>
    public TimeSpan ReservationLifetime { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>RFC 8489 §6.3.1: responses are remembered for 40 s to answer retransmissions alike.</summary>
    public TimeSpan ResponseCacheLifetime { get; init; } = TimeSpan.FromSeconds(40);

    public PeerAddressPolicy PeerPolicy { get; init; } = PeerAddressPolicy.Default;

    /// <summary>Quotas, sized for a Raspberry Pi 4 (4 cores, 1 GbE): see the README.</summary>
    public int MaxAllocations { get; init; } = 2000;
    public int MaxAllocationsPerUser { get; init; } = 200;
    public int MaxPermissionsPerAllocation { get; init; } = 64;
    public int MaxChannelsPerAllocation { get; init; } = 64;
    public int ResponseCacheCapacity { get; init; } = 8192;

    /// <summary>
    /// 401 and 438 answers to one client address (an IPv6 one by its /64) that has no allocation: a burst,
    /// then so many a second. Beyond them the request gets no answer, so a spoofed flood reflects nothing
    /// and a guesser is slowed. An office of a hundred users behind one NAT starting calls at once stays within.
    /// </summary>
    public int ChallengeBurstPerAddress { get; init; } = 200;
    public double ChallengesPerSecondPerAddress { get; init; } = 50;

    /// <summary>
    /// Failed integrity checks (a wrong password) for one user name: a burst, then so many a minute. Beyond
    /// them, clients without an allocation get no answer for that user name until it refills; a client that
    /// relays already is never limited.
    /// </summary>
    public int FailedLoginBurstPerUser { get; init; } = 20;
    public double FailedLoginsPerMinutePerUser { get; init; } = 10;

    /// <summary>
    /// Authenticated requests on the five-tuple of an allocation (Refresh, CreatePermission, ChannelBind): a
    /// burst, then so many a second. Beyond the bucket a request changes nothing and takes no place in the
    /// response cache: over UDP it gets no answer, and the client retransmits later (RFC 8489 §6.2.1); over TCP
    /// and TLS it gets 508. The burst covers a full ICE start: a permission and a channel for every peer the
    /// quotas allow.
    /// </summary>
    public int RequestBurstPerAllocation { get; init; } = 200;
    public double RequestsPerSecondPerAllocation { get; init; } = 20;

    /// <summary>
    /// Other relays to send new allocations to with 300 Try Alternate (RFC 8489 §10, ALTERNATE-SERVER) when this
    /// one is draining or at <see cref="MaxAllocations"/>; one of the client's family is chosen, in turn.
    /// </summary>
    public IReadOnlyList<TransportAddress> AlternateServers { get; init; } = [];

    /// <summary>
    /// NAT behaviour discovery (RFC 5780) on UDP; null, the default, leaves it off, as RFC 5780 §6 advises for
    /// a server that relays. Fixed when the server is made: <see cref="TurnServer.Reconfigure"/> keeps the first.
    /// </summary>
    public NatBehaviorDiscoveryOptions? NatBehaviorDiscovery { get; init; }

    /// <summary>The bind and advertised addresses for relaying in <paramref name="family"/>, if this relay serves it.</summary>
    public bool TryGetRelayAddresses(StunAddressFamily family, [NotNullWhen(true)] out IPAddress? bind, [NotNullWhen(true)] out IPAddress? advertised)
    {
        (bind, advertised) = family switch
        {
            StunAddressFamily.IPv4 => (RelayAddressIPv4, AdvertisedRelayAddressIPv4 ?? RelayAddressIPv4),
            StunAddressFamily.IPv6 => (RelayAddressIPv6, AdvertisedRelayAddressIPv6 ?? RelayAddressIPv6),
            _ => (null, null),
        };
        return bind is not null && advertised is not null;
    }
}
