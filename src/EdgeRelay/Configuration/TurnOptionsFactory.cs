using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using EdgeRelay.Net;
using EdgeRelay.Net.Streams;
using EdgeRelay.Turn;
using EdgeRelay.Turn.Policy;

namespace EdgeRelay.Configuration;

/// <summary>Turns a validated configuration into the core's options, adding what only this host knows.</summary>
public static class TurnOptionsFactory
{
    /// <param name="detectedExternalAddress">
    /// With <c>relay.externalAddress: "auto"</c>, the public address the self-check found and vouched for;
    /// until it has, the relay advertises its own address as when externalAddress is not set.
    /// </param>
    public static TurnServerOptions Create(RelayConfiguration configuration, IReadOnlyCollection<IPAddress> localAddresses,
        IPAddress? detectedExternalAddress = null)
    {
        RelaySection relay = configuration.Relay;
        IPAddress advertised = AdvertisedAddress(relay, localAddresses, detectedExternalAddress);
        IPAddress? advertisedIPv6 = relay.Ipv6Address is null
            ? null
            : relay.Ipv6ExternalAddress ?? ChooseAdvertisedAddress(relay.Ipv6Address, localAddresses);

        var servicePorts = configuration.Listeners.Select(l => l.Endpoint.Port).ToList();
        if (configuration.Status is not null)
        {
            servicePorts.Add(configuration.Status.Endpoint.Port);
        }
        var ownAddresses = new List<IPAddress>(localAddresses);
        ownAddresses.AddRange(configuration.Listeners.Select(l => l.Endpoint.Address));
        if (configuration.NatDiscovery is { Enabled: true, AlternateAddress: { } alternate } natDiscovery)
        {
            // The RFC 5780 endpoints are the relay's own listeners too: never a peer.
            ownAddresses.Add(alternate);
            servicePorts.Add(natDiscovery.AlternatePort);
        }
        var ownRelayAddresses = new List<IPAddress> { advertised };
        foreach (IPAddress? address in new[] { advertisedIPv6, relay.Address, relay.Ipv6Address })
        {
            if (address is not null && !IsUnspecified(address))
            {
                ownRelayAddresses.Add(address);
            }
        }
        ownAddresses.AddRange(ownRelayAddresses);

        return new TurnServerOptions
        {
            Realm = configuration.Realm,
            RelayAddressIPv4 = relay.Address,
            AdvertisedRelayAddressIPv4 = advertised,
            RelayAddressIPv6 = relay.Ipv6Address,
            AdvertisedRelayAddressIPv6 = advertisedIPv6,
            RelayPortMin = relay.PortMin,
            RelayPortMax = relay.PortMax,
            Users = configuration.Auth.Users,
            SharedSecrets = configuration.Auth.SharedSecrets,
            AllowAnonymous = configuration.Auth.AllowAnonymous,
            RestMaxValidity = TimeSpan.FromSeconds(configuration.Auth.RestMaxValiditySeconds),
            NonceLifetime = TimeSpan.FromSeconds(configuration.Auth.NonceLifetimeSeconds),
            MaxLifetime = TimeSpan.FromSeconds(configuration.Limits.MaxLifetimeSeconds),
            MaxAllocations = configuration.Limits.MaxAllocations,
            MaxAllocationsPerUser = configuration.Limits.MaxAllocationsPerUser,
            MaxPermissionsPerAllocation = configuration.Limits.MaxPermissionsPerAllocation,
            MaxChannelsPerAllocation = configuration.Limits.MaxChannelsPerAllocation,
            ChallengesPerSecondPerAddress = configuration.Limits.ChallengesPerSecondPerAddress,
            ChallengeBurstPerAddress = 4 * configuration.Limits.ChallengesPerSecondPerAddress,
            FailedLoginsPerMinutePerUser = configuration.Limits.FailedLoginsPerMinutePerUser,
            FailedLoginBurstPerUser = 2 * configuration.Limits.FailedLoginsPerMinutePerUser,
            RequestsPerSecondPerAllocation = configuration.Limits.RequestsPerSecondPerAllocation,
            RequestBurstPerAllocation = 10 * configuration.Limits.RequestsPerSecondPerAllocation,
            AlternateServers = configuration.AlternateServers.Select(EdgeRelay.Stun.TransportAddress.FromIPEndPoint).ToList(),
            NatBehaviorDiscovery = configuration.NatDiscovery is { Enabled: true, Primary: { } primary } discovery
                ? new NatBehaviorDiscoveryOptions(primary, discovery.AlternateAddress, discovery.AlternatePort)
                : null,
            PeerPolicy = new PeerAddressPolicy(
                allowLoopback: configuration.Peers.AllowLoopback,
                allow: configuration.Peers.Allow,
                deny: configuration.Peers.Deny,
                ownAddresses: ownAddresses,
                ownServicePorts: servicePorts,
                ownRelayAddresses: ownRelayAddresses,
                relayPortMin: relay.PortMin,
                relayPortMax: relay.PortMax),
        };
    }

    public static IReadOnlyList<ListenerOptions> CreateListeners(RelayConfiguration configuration) =>
        configuration.Listeners.Select(l => new ListenerOptions(
            l.Transport switch
            {
                ListenerTransport.Tcp => TransportProtocol.Tcp,
                ListenerTransport.Tls => TransportProtocol.Tls,
                _ => TransportProtocol.Udp,
            },
            l.Endpoint, l.Certificate, l.PrivateKey)).ToList();

    public static StreamLimits CreateStreamLimits(RelayConfiguration configuration) => new()
    {
        MaxConnections = configuration.Limits.MaxConnections,
        MaxConnectionsPerAddress = configuration.Limits.MaxConnectionsPerAddress,
        IdleTimeout = TimeSpan.FromSeconds(configuration.Limits.ConnectionIdleSeconds),
        MaxBufferedBytes = configuration.Limits.MaxBufferedBytesPerConnection,
        TlsHandshakeTimeout = TimeSpan.FromSeconds(configuration.Limits.TlsHandshakeSeconds),
    };

    /// <summary>The IPv4 address relayed transport addresses are advertised on (XOR-RELAYED-ADDRESS, RFC 8656 §7.3).</summary>
    public static IPAddress AdvertisedAddress(RelaySection relay, IReadOnlyCollection<IPAddress> localAddresses, IPAddress? detectedExternalAddress = null) =>
        relay.ExternalAddress
        ?? (relay.ExternalAddressAuto ? detectedExternalAddress : null)
        ?? ChooseAdvertisedAddress(relay.Address, localAddresses);

    /// <summary>
    /// With relay.address unspecified and no externalAddress, the relayed address advertised is this
    /// host's first address of the relay's family that is up and not loopback (loopback if none).
    /// </summary>
    public static IPAddress ChooseAdvertisedAddress(IPAddress relayAddress, IReadOnlyCollection<IPAddress> localAddresses)
    {
        if (!IsUnspecified(relayAddress))
        {
            return relayAddress;
        }
        AddressFamily family = relayAddress.AddressFamily;
        return localAddresses.FirstOrDefault(a => a.AddressFamily == family && !IPAddress.IsLoopback(a) && !a.IsIPv6LinkLocal)
               ?? (family == AddressFamily.InterNetwork ? IPAddress.Loopback : IPAddress.IPv6Loopback);
    }

    /// <summary>The unicast addresses of the interfaces that are up, in the order the kernel lists them.</summary>
    public static IReadOnlyCollection<IPAddress> GetLocalAddresses()
    {
        try
        {
            return NetworkInterface.GetAllNetworkInterfaces()
                .Where(i => i.OperationalStatus is OperationalStatus.Up or OperationalStatus.Unknown)
                .SelectMany(i => i.GetIPProperties().UnicastAddresses.Select(u => u.Address))
                .ToList();
        }
        catch (NetworkInformationException)
        {
            return [IPAddress.Loopback];
        }
    }

    private static bool IsUnspecified(IPAddress address) => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);
}
