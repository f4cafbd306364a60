using System.Net;
using EdgeRelay.Stun;

namespace EdgeRelay.Turn;

/// <summary>
/// NAT behaviour discovery (RFC 5780) on UDP: the server's primary address and port (a UDP listener's),
/// and its alternate address and port. With an alternate address the server has the four endpoints of
/// RFC 5780 §6.1 (each address on each port) and answers CHANGE-REQUEST; without one it serves only what
/// needs a single endpoint (RESPONSE-ORIGIN, RESPONSE-PORT, PADDING), sends no OTHER-ADDRESS and answers
/// CHANGE-REQUEST with 420, as RFC 5780 §6 requires of a server that cannot have the same ports on two
/// addresses.
/// </summary>
/// <remarks>
/// The four endpoints are numbered by a role of two bits: bit 0 set for the alternate port, bit 1 for the
/// alternate address. Primary address and port is role 0, the OTHER-ADDRESS of role r is role r ^ 3, and a
/// CHANGE-REQUEST flips the bits it names (<see cref="ResponseSource"/>).
/// </remarks>
public sealed record NatBehaviorDiscoveryOptions
{
    public NatBehaviorDiscoveryOptions(IPEndPoint primary, IPAddress? alternateAddress = null, int alternatePort = 0)
    {
        ArgumentNullException.ThrowIfNull(primary);
        if (primary.Address.Equals(IPAddress.Any) || primary.Address.Equals(IPAddress.IPv6Any) || primary.Port == 0)
        {
            // RFC 5780 §7.3: RESPONSE-ORIGIN is the address the response is sent from, so it must be known.
            throw new ArgumentException("the primary endpoint must be a specific address and port", nameof(primary));
        }
        _primaryAddress = TransportAddress.FromIPEndPoint(primary);
        _alternateAddress = alternateAddress is null ? default : TransportAddress.FromIPAddress(alternateAddress, 0);
        if (alternateAddress is not null
            && (_alternateAddress.Family != _primaryAddress.Family || _alternateAddress.HasSameAddress(_primaryAddress)
                || alternatePort is <= 0 or > 65535 || alternatePort == primary.Port))
        {
            throw new ArgumentException("the alternate address must be another address of the primary's family, with another port", nameof(alternateAddress));
        }
        Primary = primary;
        AlternateAddress = alternateAddress;
        AlternatePort = alternateAddress is null ? 0 : alternatePort;
    }

    private readonly TransportAddress _primaryAddress;
    private readonly TransportAddress _alternateAddress;

    /// <summary>The primary address and port: a UDP listener of a specific address.</summary>
    public IPEndPoint Primary { get; }

    /// <summary>The alternate address, or null for a server with one address.</summary>
    public IPAddress? AlternateAddress { get; }

    /// <summary>The alternate port; 0 without an alternate address.</summary>
    public int AlternatePort { get; }

    /// <summary>Whether the server has the four endpoints that CHANGE-REQUEST and OTHER-ADDRESS need (RFC 5780 §6).</summary>
    public bool HasAlternate => AlternateAddress is not null;

    /// <summary>How many endpoints there are: 4 with an alternate address, else 1.</summary>
    public int EndpointCount => HasAlternate ? 4 : 1;

    /// <summary>The endpoint of <paramref name="role"/> (bit 0: alternate port, bit 1: alternate address).</summary>
    public IPEndPoint EndpointOf(int role) => new(
        (role & 2) != 0 ? AlternateAddress! : Primary.Address,
        (role & 1) != 0 ? AlternatePort : Primary.Port);

    /// <summary>As <see cref="EndpointOf"/>, as a transport address.</summary>
    public TransportAddress TransportAddressOf(int role) => ((role & 2) != 0 ? _alternateAddress : _primaryAddress)
        .WithPort((ushort)((role & 1) != 0 ? AlternatePort : Primary.Port));

    /// <summary>Which of the endpoints <paramref name="local"/> is; false when it is none of them (another listener).</summary>
    public bool TryGetRole(in TransportAddress local, out int role)
    {
        for (role = 0; role < EndpointCount; role++)
        {
            if (TransportAddressOf(role) == local)
            {
                return true;
            }
        }
        role = 0;
        return false;
    }
}
