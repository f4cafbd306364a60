using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Leds;
using EdgeRelay.Appliance.Update;
using System.Net;
using Microsoft.Extensions.Logging;

namespace EdgeRelay.Configuration;

/// <summary>The configuration file of DESIGN.md, parsed and validated. Every key is documented in the README.</summary>
public sealed record RelayConfiguration
{
    public string Realm { get; init; } = "edgerelay.local";
    public IReadOnlyList<ListenerConfiguration> Listeners { get; init; } = [];
    public RelaySection Relay { get; init; } = new();
    public AuthSection Auth { get; init; } = new();
    public PeersSection Peers { get; init; } = new();
    public StatusSection? Status { get; init; }

    /// <summary>The box's status LEDs; none unless configured (the development default shows them on the console).</summary>
    public LedOptions Leds { get; init; } = new();
    public LimitsSection Limits { get; init; } = new();
    public EngineSection Engine { get; init; } = new();

    /// <summary>NAT behaviour discovery (RFC 5780) on UDP; off unless configured.</summary>
    public NatDiscoverySection NatDiscovery { get; init; } = new();

    /// <summary>
    /// Other relays that new allocations are sent to (300 Try Alternate) while this one drains or is at
    /// limits.maxAllocations; none: those are refused with 508.
    /// </summary>
    public IReadOnlyList<IPEndPoint> AlternateServers { get; init; } = [];

    /// <summary>The box's check of the network in front of it; off unless STUN servers are named.</summary>
    public SelfCheckSection SelfCheck { get; init; } = new();
    /// <summary>The clock: NTP servers for systemd-timesyncd, and whether an unsynchronised clock is a reason (D11).</summary>
    public TimeSection Time { get; init; } = new();

    /// <summary>The release the cloud wants this box to run; null: none named, the running one stays.</summary>
    public UpdateTarget? Update { get; init; }
    public string StateDirectory { get; init; } = "/var/lib/edgerelay";
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>Grows with every document the cloud publishes; 0 for a bootstrap file without one.</summary>
    public long Version { get; init; }

    /// <summary>Where the configuration comes from once the box runs: null, this file is all there is.</summary>
    public CloudOptions? Cloud { get; init; }
}

/// <summary>
/// Where a configuration document comes from. The bootstrap file (<c>edgerelay run --config</c>) says
/// where the box keeps its state and how it reaches the cloud; a cloud document is the rest of the
/// configuration, with a <c>version</c>, and may rotate the trusted keys and change the poll interval.
/// </summary>
public enum ConfigurationOrigin
{
    Bootstrap,
    Cloud,
}

/// <summary>What a cloud document says about the cloud itself: null keeps the bootstrap's (or the last rotation's) value.</summary>
public sealed record CloudOverrides(IReadOnlyList<TrustedKey>? TrustedKeys, TimeSpan? PollInterval);

public enum ListenerTransport
{
    Udp,
    Tcp,
    Tls,
}

public sealed record ListenerConfiguration(ListenerTransport Transport, IPEndPoint Endpoint, string? Certificate, string? PrivateKey);

public sealed record RelaySection
{
    public IPAddress Address { get; init; } = IPAddress.Any;
    public IPAddress? ExternalAddress { get; init; }

    /// <summary><c>externalAddress: "auto"</c>: the public address the self-check finds, when the NAT's mapping makes it right.</summary>
    public bool ExternalAddressAuto { get; init; }

    /// <summary>Where IPv6 relayed addresses are bound; null: no IPv6 relaying.</summary>
    public IPAddress? Ipv6Address { get; init; }
    public IPAddress? Ipv6ExternalAddress { get; init; }
    public int PortMin { get; init; } = 49152;
    public int PortMax { get; init; } = 65535;
}

public sealed record AuthSection
{
    public IReadOnlyDictionary<string, string> Users { get; init; } = new Dictionary<string, string>();
    public IReadOnlyList<string> SharedSecrets { get; init; } = [];
    public bool AllowAnonymous { get; init; }
    public int RestMaxValiditySeconds { get; init; } = 86400;
    public int NonceLifetimeSeconds { get; init; } = 600;
}

public sealed record PeersSection
{
    public bool AllowLoopback { get; init; }
    public IReadOnlyList<IPNetwork> Allow { get; init; } = [];
    public IReadOnlyList<IPNetwork> Deny { get; init; } = [];
}

public sealed record StatusSection(IPEndPoint Endpoint)
{
    /// <summary>Bearer token for the page's actions (identify, later drain and refresh); none: actions are off.</summary>
    public string? AdminToken { get; init; }

    /// <summary>Names the page answers to besides IP literals and localhost (DNS rebinding guard).</summary>
    public IReadOnlyList<string> HostNames { get; init; } = [];
}

/// <summary>Defaults sized for a Raspberry Pi 4 (4 cores, 1 GbE, 2-8 GiB): see the README.</summary>
public sealed record LimitsSection
{
    public int MaxAllocations { get; init; } = 2000;
    public int MaxAllocationsPerUser { get; init; } = 200;
    public int MaxPermissionsPerAllocation { get; init; } = 64;
    public int MaxChannelsPerAllocation { get; init; } = 64;
    public int MaxLifetimeSeconds { get; init; } = 3600;

    /// <summary>TCP and TLS: connections in total, and from one IP address.</summary>
    public int MaxConnections { get; init; } = 1000;
    public int MaxConnectionsPerAddress { get; init; } = 32;

    /// <summary>A connection that holds no allocation and completes no message for this long is closed.</summary>
    public int ConnectionIdleSeconds { get; init; } = 30;

    /// <summary>Bytes queued towards one slow TCP/TLS client before further packets to it are dropped.</summary>
    public int MaxBufferedBytesPerConnection { get; init; } = 256 * 1024;

    public int TlsHandshakeSeconds { get; init; } = 10;

    /// <summary>401/438 answers a second to one address without an allocation (an IPv6 one by its /64); a burst of four seconds' worth.</summary>
    public int ChallengesPerSecondPerAddress { get; init; } = 50;

    /// <summary>Wrong passwords a minute for one user name; a burst of two minutes' worth.</summary>
    public int FailedLoginsPerMinutePerUser { get; init; } = 10;

    /// <summary>Requests a second on one allocation's five-tuple (Refresh, CreatePermission, ChannelBind); a burst of ten seconds' worth.</summary>
    public int RequestsPerSecondPerAllocation { get; init; } = 20;
}

/// <summary>How the relay drives its UDP sockets.</summary>
public sealed record EngineSection
{
    /// <summary>auto (io_uring, else recvmmsg, on Linux), io_uring, recvmmsg (epoll, recvmmsg/sendmmsg) or portable (.NET async sockets).</summary>
    public EdgeRelay.Net.SocketBackend Backend { get; init; } = EdgeRelay.Net.SocketBackend.Auto;

    /// <summary>Event loops of the batched engine; 0: one per core.</summary>
    public int Loops { get; init; }
}

/// <summary>
/// NAT behaviour discovery (RFC 5780), UDP only: its tests are about how a NAT maps and filters UDP. Off by
/// default, as RFC 5780 §6 advises for a server that relays.
/// </summary>
public sealed record NatDiscoverySection
{
    public bool Enabled { get; init; }

    /// <summary>The UDP listener whose address and port are RFC 5780's primary ones; set when <see cref="Enabled"/>.</summary>
    public IPEndPoint? Primary { get; init; }

    /// <summary>The second address of this host; null: a server with one address (RFC 5780 §6).</summary>
    public IPAddress? AlternateAddress { get; init; }

    /// <summary>The second port, with <see cref="AlternateAddress"/>; 0 without.</summary>
    public int AlternatePort { get; init; }
}

/// <summary>
/// The self-check: the NAT behaviour probe (RFC 5780) run from <c>relay.address</c> at start and every
/// interval against these STUN servers, to find the public address and the NAT's mapping behaviour.
/// </summary>
public sealed record SelfCheckSection
{
    /// <summary>None: no self-check.</summary>
    public IReadOnlyList<EdgeRelay.Appliance.Diagnostics.StunServerAddress> StunServers { get; init; } = [];
    public int IntervalSeconds { get; init; } = 900;
    public int TimeoutSeconds { get; init; } = 2;

    public bool Enabled => StunServers.Count > 0;

    // A record's own equality compares the list by reference: two documents that name the same servers are the same section.
    public bool Equals(SelfCheckSection? other) => other is not null && StunServers.SequenceEqual(other.StunServers)
        && IntervalSeconds == other.IntervalSeconds && TimeoutSeconds == other.TimeoutSeconds;

    public override int GetHashCode() => HashCode.Combine(StunServers.Count, IntervalSeconds, TimeoutSeconds);
}

/// <summary>
/// The box's clock (README, "Time"). NTP servers for systemd-timesyncd (offices often block public NTP), which
/// the relay hands to the root-side path unit as <c>stateDirectory/timesyncd.conf</c>; and whether a kernel
/// clock that no NTP client disciplines is a degraded reason by itself.
/// </summary>
public sealed record TimeSection
{
    /// <summary>Host names or IP addresses; none: the distribution's servers, and no timesyncd.conf.</summary>
    public IReadOnlyList<string> NtpServers { get; init; } = [];

    /// <summary>False on a virtual machine whose hypervisor keeps the clock: only the cloud's Date header can then say it is wrong.</summary>
    public bool RequireSynchronisation { get; init; } = true;

    // A record's own equality compares the list by reference.
    public bool Equals(TimeSection? other) => other is not null && NtpServers.SequenceEqual(other.NtpServers, StringComparer.Ordinal)
        && RequireSynchronisation == other.RequireSynchronisation;

    public override int GetHashCode() => HashCode.Combine(NtpServers.Count, RequireSynchronisation);
}
