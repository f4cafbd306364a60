using System.Text;

namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>RFC 5780 §4.3 (after RFC 4787 §4.1): how the NAT picks the mapped address for a new destination.</summary>
public enum NatMapping
{
    /// <summary>Not found out: no test could run, or the answers did not allow a conclusion (the detail says why).</summary>
    Unknown,

    /// <summary>The mapped address is this host's own address and port.</summary>
    NoNat,
    EndpointIndependent,
    AddressDependent,
    AddressAndPortDependent,

    /// <summary>Two servers without OTHER-ADDRESS saw different mappings: address- or address and port-dependent, not which.</summary>
    Dependent,
}

/// <summary>RFC 5780 §4.4 (after RFC 4787 §5): which outside sources may send to a mapped address.</summary>
public enum NatFiltering
{
    Unknown,
    EndpointIndependent,
    AddressDependent,
    AddressAndPortDependent,
}

/// <summary>One finding: the RFC's term (or a plain statement) and how it was found.</summary>
public sealed record NatFinding(string Name, string Value, string Detail);

/// <summary>What <see cref="NatBehaviorProbe"/> found, in the RFC's terms, and what it means for WebRTC.</summary>
public sealed record NatBehaviorReport
{
    public const string UdpLine = "udp";
    public const string NatLine = "nat";
    public const string MappingLine = "mapping";
    public const string FilteringLine = "filtering";
    public const string HairpinningLine = "hairpinning";
    public const string PortLine = "port";
    public const string LifetimeLine = "lifetime";

    /// <summary>The servers as given, the first one first.</summary>
    public required string Servers { get; init; }

    /// <summary>Test I was sent: the server's name resolved and a local socket opened.</summary>
    public bool Tested { get; init; } = true;

    /// <summary>Test I got an answer (RFC 5780 §4.2): UDP reaches the server and comes back.</summary>
    public required bool UdpWorks { get; init; }

    /// <summary>Test I's mapped address; null when the tests could not run.</summary>
    public string? MappedAddress { get; init; }

    /// <summary>The address of <see cref="MappedAddress"/>: the public address, seen from the server.</summary>
    public System.Net.IPAddress? MappedIPAddress { get; init; }

    /// <summary>The mapped address is not this host's own address and port; null when the tests could not run.</summary>
    public bool? BehindNat { get; init; }

    /// <summary>The tests ran: test I got a mapped address.</summary>
    public bool Completed => MappedAddress is not null;

    public NatMapping Mapping { get; init; }
    public NatFiltering Filtering { get; init; }
    public bool? Hairpinning { get; init; }
    public bool? PortPreserved { get; init; }

    /// <summary>A line for each finding, in the order they are printed.</summary>
    public required IReadOnlyList<NatFinding> Findings { get; init; }

    public static string Term(NatMapping mapping) => mapping switch
    {
        NatMapping.NoNat => "no NAT",
        NatMapping.EndpointIndependent => "endpoint-independent mapping",
        NatMapping.AddressDependent => "address-dependent mapping",
        NatMapping.AddressAndPortDependent => "address and port-dependent mapping",
        NatMapping.Dependent => "address-dependent or address and port-dependent mapping",
        _ => "unknown",
    };

    public static string Term(NatFiltering filtering) => filtering switch
    {
        NatFiltering.EndpointIndependent => "endpoint-independent filtering",
        NatFiltering.AddressDependent => "address-dependent filtering",
        NatFiltering.AddressAndPortDependent => "address and port-dependent filtering",
        _ => "unknown",
    };

    /// <summary>The one-line verdict: what the behaviour found means for a WebRTC call from this network.</summary>
    public string Verdict
    {
        get
        {
            if (!Tested)
            {
                return $"WebRTC: nothing was tested: {Findings[0].Detail}.";
            }
            if (UdpWorks && !Completed)
            {
                return "WebRTC: the server answers but gives no mapped address: it cannot serve as a STUN server for ICE.";
            }
            if (!UdpWorks)
            {
                return "WebRTC: UDP is blocked (or the server is down): only TURN over TCP or TLS can work from here (turn:…?transport=tcp, turns:…:443).";
            }
            return Mapping switch
            {
                NatMapping.NoNat when Filtering is NatFiltering.EndpointIndependent or NatFiltering.Unknown =>
                    "WebRTC: no NAT: peers can reach this host's own address (host candidates); TURN is only for peers behind difficult NATs.",
                NatMapping.NoNat =>
                    "WebRTC: no NAT but a filtering firewall: ICE opens the way with its checks; TURN is only for peers behind difficult NATs.",
                NatMapping.EndpointIndependent =>
                    "WebRTC: endpoint-independent mapping: direct peer-to-peer with STUN (server-reflexive candidates) is likely to work; TURN is needed only when the other side's NAT is symmetric.",
                NatMapping.AddressDependent or NatMapping.AddressAndPortDependent or NatMapping.Dependent =>
                    $"WebRTC: {Term(Mapping)} (a \"symmetric\" NAT): the mapped address a STUN server sees is not the one a peer would reach; calls need a TURN relay.",
                _ => "WebRTC: UDP works through STUN, but the mapping behaviour is unknown (it needs an RFC 5780 server with two addresses, or a second --stun server): keep a TURN relay configured.",
            };
        }
    }

    /// <summary>Aligned lines, <c>mapping      endpoint-independent mapping (…)</c>, then the verdict.</summary>
    public string Format()
    {
        var text = new StringBuilder();
        foreach (NatFinding finding in Findings)
        {
            text.Append(finding.Name.PadRight(13)).Append(finding.Value);
            if (finding.Detail.Length > 0)
            {
                text.Append(" (").Append(finding.Detail).Append(')');
            }
            text.AppendLine();
        }
        text.AppendLine(Verdict);
        return text.ToString();
    }
}
