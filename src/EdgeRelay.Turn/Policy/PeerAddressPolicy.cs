using System.Buffers.Binary;
using System.Net;
using EdgeRelay.Stun;

namespace EdgeRelay.Turn.Policy;

/// <summary>
/// Decides whether the relay may send to a peer (RFC 8656 §21.2.3 leaves the choice to the server; the
/// answer here is "only to the global internet" unless the operator says otherwise).
///
/// Order of the rules: the relay's own services are always refused; then <c>deny</c>; then <c>allow</c>
/// and the relay's own relayed addresses; then <c>allowLoopback</c>; then the default, which refuses
/// every address that is not globally reachable. IPv6 spellings that carry an IPv4 address
/// (IPv4-mapped, NAT64, 6to4, Teredo) are judged by the IPv4 address they carry, as well as by their own.
/// </summary>
public sealed class PeerAddressPolicy
{
    private readonly IPNetwork[] _allow;
    private readonly IPNetwork[] _deny;
    private readonly bool _allowLoopback;
    private readonly HashSet<IPAddress> _ownAddresses;
    private readonly HashSet<int> _ownServicePorts;
    private readonly HashSet<IPAddress> _ownRelayAddresses;
    private readonly int _relayPortMin;
    private readonly int _relayPortMax;

    public PeerAddressPolicy(
        bool allowLoopback = false,
        IEnumerable<IPNetwork>? allow = null,
        IEnumerable<IPNetwork>? deny = null,
        IEnumerable<IPAddress>? ownAddresses = null,
        IEnumerable<int>? ownServicePorts = null,
        IEnumerable<IPAddress>? ownRelayAddresses = null,
        int relayPortMin = 0,
        int relayPortMax = -1)
    {
        _allowLoopback = allowLoopback;
        _allow = allow?.ToArray() ?? [];
        _deny = deny?.ToArray() ?? [];
        _ownAddresses = new HashSet<IPAddress>((ownAddresses ?? []).Select(Normalize));
        _ownServicePorts = new HashSet<int>(ownServicePorts ?? []);
        _ownRelayAddresses = new HashSet<IPAddress>((ownRelayAddresses ?? []).Select(Normalize));
        _relayPortMin = relayPortMin;
        _relayPortMax = relayPortMax;
    }

    /// <summary>The default: only globally reachable peers.</summary>
    public static PeerAddressPolicy Default { get; } = new();

    public PeerDecision Evaluate(in TransportAddress peer) => Evaluate(peer.ToIPAddress(), peer.Port);

    public PeerDecision Evaluate(IPAddress address, int port)
    {
        IPAddress normalized = Normalize(address);
        IPAddress? embedded = GetEmbeddedIPv4(address);

        if (IsUnspecified(normalized))
        {
            return PeerDecision.RefusedUnspecified;
        }
        // The relay never talks to its own listeners or status page, whatever allow says: a relay that
        // reaches its own admin interface is coturn CVE-2020-26262's lesson.
        if (_ownServicePorts.Contains(port)
            && (IPAddress.IsLoopback(normalized) || _ownAddresses.Contains(normalized) || _ownRelayAddresses.Contains(normalized)))
        {
            return PeerDecision.RefusedOwnService;
        }
        if (Matches(_deny, address) || (embedded is not null && Matches(_deny, embedded)))
        {
            return PeerDecision.RefusedDenied;
        }
        if (Matches(_allow, address) || (embedded is not null && Matches(_allow, embedded)))
        {
            return PeerDecision.AllowedByConfiguration;
        }
        // Two clients of this relay talking through it: the peer is another relayed transport address.
        if (_ownRelayAddresses.Contains(normalized) && port >= _relayPortMin && port <= _relayPortMax)
        {
            return PeerDecision.AllowedOwnRelay;
        }
        bool loopback = IPAddress.IsLoopback(normalized) || (embedded is not null && IPAddress.IsLoopback(embedded));
        if (loopback)
        {
            return _allowLoopback ? PeerDecision.AllowedByConfiguration : PeerDecision.RefusedLoopback;
        }
        if (!IsGloballyReachable(address))
        {
            return PeerDecision.RefusedNotGlobal;
        }
        return PeerDecision.Allowed;
    }

    /// <summary>
    /// Which ports of a permitted IP address may be sent to. A permission covers a whole IP address
    /// (RFC 8656 §9), so one granted for the relay's own address, or for loopback, must not let a Send
    /// indication reach the relay's listeners or status page on another port (coturn CVE-2020-26262).
    /// </summary>
    public PortRestriction GetPortRestriction(in TransportAddress peer)
    {
        IPAddress address = Normalize(peer.ToIPAddress());
        bool openedByConfiguration = Matches(_allow, address) || (_allowLoopback && IPAddress.IsLoopback(address));
        if (_ownRelayAddresses.Contains(address) && !openedByConfiguration)
        {
            return PortRestriction.RelayPortsOnly;
        }
        if (IPAddress.IsLoopback(address) || _ownAddresses.Contains(address) || _ownRelayAddresses.Contains(address))
        {
            return PortRestriction.NotOwnServices;
        }
        return PortRestriction.None;
    }

    /// <summary>Checks a port against a restriction without allocating: it runs for every Send indication that has one.</summary>
    public bool IsPortAllowed(PortRestriction restriction, int port) => restriction switch
    {
        PortRestriction.None => true,
        PortRestriction.NotOwnServices => !_ownServicePorts.Contains(port),
        _ => !_ownServicePorts.Contains(port) && port >= _relayPortMin && port <= _relayPortMax,
    };

    /// <summary>True for an address outside every special-purpose block, in every spelling.</summary>
    public static bool IsGloballyReachable(IPAddress address)
    {
        IPAddress normalized = Normalize(address);
        if (IsIPv4(normalized))
        {
            return !AddressRanges.Contains(AddressRanges.NonGlobalIPv4, normalized);
        }
        if (AddressRanges.IPv4Compatible.Contains(normalized))
        {
            return false;
        }
        IPAddress? embedded = GetEmbeddedIPv4(normalized);
        if (embedded is not null && !IsGloballyReachable(embedded))
        {
            return false;
        }
        if (AddressRanges.Nat64.Contains(normalized))
        {
            // The well-known NAT64 prefix reaches the IPv4 address it carries, which was judged above.
            return true;
        }
        if (AddressRanges.Teredo.Contains(normalized))
        {
            // Teredo sits inside 2001::/23 but is routable when the addresses it carries are.
            return embedded is not null && IsGloballyReachable(GetTeredoServer(normalized));
        }
        // Only 2000::/3 is allocated as global unicast (RFC 4291 §2.4): anything outside it is not a peer.
        return AddressRanges.GlobalUnicastIPv6.Contains(normalized)
               && !AddressRanges.Contains(AddressRanges.NonGlobalIPv6, normalized);
    }

    private static bool Matches(IPNetwork[] networks, IPAddress address) =>
        networks.Length > 0 && (AddressRanges.Contains(networks, address) || AddressRanges.Contains(networks, Normalize(address)));

    private static bool IsUnspecified(IPAddress normalized) =>
        normalized.Equals(IPAddress.Any) || normalized.Equals(IPAddress.IPv6Any);

    /// <summary>An IPv4-mapped IPv6 address is the IPv4 address: a dual-stack socket sends to it as such.</summary>
    public static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary>The IPv4 address an IPv6 spelling carries (mapped, compatible, NAT64, 6to4, Teredo client), or null.</summary>
    public static IPAddress? GetEmbeddedIPv4(IPAddress address)
    {
        if (IsIPv4(address))
        {
            return null;
        }
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        if (AddressRanges.IPv4Compatible.Contains(address) || AddressRanges.Nat64.Contains(address))
        {
            return new IPAddress(bytes[12..]);
        }
        if (AddressRanges.SixToFour.Contains(address))
        {
            return new IPAddress(bytes.Slice(2, 4));
        }
        if (AddressRanges.Teredo.Contains(address))
        {
            uint client = ~BinaryPrimitives.ReadUInt32BigEndian(bytes[12..]);
            Span<byte> v4 = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(v4, client);
            return new IPAddress(v4);
        }
        return null;
    }

    /// <summary>The family from the address's length: this layer keeps clear of System.Net.Sockets.</summary>
    private static bool IsIPv4(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        return address.TryWriteBytes(bytes, out int written) && written == 4;
    }

    private static IPAddress GetTeredoServer(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        return new IPAddress(bytes.Slice(4, 4));
    }
}
