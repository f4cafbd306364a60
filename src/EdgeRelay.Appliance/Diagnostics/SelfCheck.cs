using System.Net;
using EdgeRelay.Appliance.Status;

namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>How <c>relay.externalAddress</c> is given.</summary>
public enum ExternalAddressMode
{
    /// <summary>Not set: the relay advertises its own address (relay.address, or this host's first address).</summary>
    NotSet,

    /// <summary>An address written in the configuration.</summary>
    Configured,

    /// <summary><c>"auto"</c>: the public address the self-check finds, when the NAT's mapping makes it right.</summary>
    Auto,
}

/// <summary>What the box's self-check tests against, how often, and what it checks the answers with.</summary>
public sealed record SelfCheckOptions
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMinutes(15);

    /// <summary>
    /// STUN servers, tried in order until one answers; the next one in the list is the second server that
    /// stands in for OTHER-ADDRESS when the answering one is not an RFC 5780 server with two addresses.
    /// </summary>
    public required IReadOnlyList<StunServerAddress> Servers { get; init; }

    public TimeSpan Interval { get; init; } = DefaultInterval;

    /// <summary>How long one test waits for its answer (<see cref="NatBehaviorOptions.Timeout"/>).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary><c>relay.address</c>: the checks leave from where relayed datagrams leave.</summary>
    public IPAddress LocalAddress { get; init; } = IPAddress.Any;

    /// <summary><c>relay.portRange</c>: the checks' local ports are taken from it, and the advice names it.</summary>
    public int RelayPortMin { get; init; } = 49152;
    public int RelayPortMax { get; init; } = 65535;

    public ExternalAddressMode ExternalAddress { get; init; }

    /// <summary>What the relay advertises in XOR-RELAYED-ADDRESS (RFC 8656 §7.3); not used with <see cref="ExternalAddressMode.Auto"/>, which decides it.</summary>
    public required IPAddress Advertised { get; init; }
}

/// <summary>One self-check: what the probe found, what it means for the relay, and what to change.</summary>
public sealed record SelfCheckResult
{
    public required DateTimeOffset CheckedAt { get; init; }
    public required NatBehaviorReport Report { get; init; }

    /// <summary>The address the STUN server saw this box's datagrams come from; null when no server answered.</summary>
    public IPAddress? PublicAddress { get; init; }

    /// <summary>With <c>externalAddress: "auto"</c>: the address to advertise from now on; null keeps what is advertised.</summary>
    public IPAddress? DetectedExternalAddress { get; init; }

    /// <summary>The degraded reasons this check raises (D7, D8, D9); none when the relayed addresses are right.</summary>
    public required IReadOnlyList<StatusReason> Problems { get; init; }

    /// <summary>One line: what the check found.</summary>
    public required string Verdict { get; init; }

    /// <summary>What to change, one sentence a line, naming the configuration keys.</summary>
    public required IReadOnlyList<string> Advice { get; init; }
}

/// <summary>
/// Judges a NAT behaviour report (RFC 5780) as the relay's own: are the relayed transport addresses the
/// relay hands out (RFC 8656 §7.3, XOR-RELAYED-ADDRESS) ones that peers outside can reach?
/// <list type="bullet">
/// <item>The address: what the relay advertises must be the public address the STUN servers see (D7).</item>
/// <item>The port: a relayed port is reachable at the same port outside only when the NAT maps
/// endpoint-independently and keeps the port (RFC 4787 §4.1, §4.2.1). A NAT that gives each destination
/// another port ("symmetric", address- or address and port-dependent mapping) sends the relay's datagrams
/// to a peer from a port the peer was never told, which ICE's checks refuse (RFC 8445 §7.2.5.2.1) (D8).</item>
/// <item>Filtering only decides whether a peer can send before the relay has sent to it; ICE's checks
/// open the way, so it is advice, not a reason.</item>
/// </list>
/// </summary>
public static class SelfCheck
{
    public static SelfCheckResult Evaluate(NatBehaviorReport report, SelfCheckOptions options, DateTimeOffset checkedAt)
    {
        string range = $"{options.RelayPortMin}-{options.RelayPortMax}";
        string servers = string.Join(", ", options.Servers);
        if (report.MappedIPAddress is not { } publicAddress || publicAddress.AddressFamily != options.LocalAddress.AddressFamily)
        {
            var advice = new List<string>
            {
                $"Check that this box may send UDP to {servers} and get answers: a firewall that blocks it blocks relaying over UDP as well.",
                "Or name STUN servers that answer in selfCheck.stunServers (another EdgeRelay box of the fleet with natDiscovery enabled is one).",
            };
            if (options.ExternalAddress == ExternalAddressMode.Auto)
            {
                advice.Add("relay.externalAddress \"auto\" keeps the address it advertises now until a check succeeds.");
            }
            return new SelfCheckResult
            {
                CheckedAt = checkedAt,
                Report = report,
                Problems = [StatusReasons.PublicAddressUnverified],
                Verdict = (report.MappedIPAddress is { } other
                    ? $"the STUN server saw {other}, not an address of relay.address's family: the public address is not verified"
                    : report.UdpWorks
                    ? "the STUN server answered without a mapped address: the public address is not verified"
                    : "no STUN server answered: the public address is not verified")
                    + (report.Findings.FirstOrDefault() is { } finding ? $" ({finding.Detail})" : string.Empty),
                Advice = advice,
            };
        }

        bool behindNat = report.BehindNat ?? true;
        string mappingTerm = NatBehaviorReport.Term(report.Mapping);
        // RFC 4787 §4.1 and §4.2.1: the relayed port is the same outside only with endpoint-independent mapping that keeps ports.
        bool portsChange = report.Mapping is NatMapping.AddressDependent or NatMapping.AddressAndPortDependent or NatMapping.Dependent
                           || (behindNat && report.PortPreserved == false);
        var problems = new List<StatusReason>();
        var advices = new List<string>();
        IPAddress? detected = null;
        string local = options.LocalAddress.Equals(IPAddress.Any) ? "this box" : $"this box ({options.LocalAddress})";
        if (portsChange)
        {
            problems.Add(StatusReasons.NatUnsuitable);
            string how = report.Mapping == NatMapping.EndpointIndependent ? "endpoint-independent mapping, but it does not keep the local port" : mappingTerm;
            advices.Add($"The NAT in front of the box gives each destination another port ({how}): peers are told relayed ports that are not the ones they hear from. " +
                        $"Map the public address {publicAddress} 1:1 to {local} (a static NAT or DMZ host that keeps ports), or give the box a public address.");
        }

        switch (options.ExternalAddress)
        {
            case ExternalAddressMode.Auto when portsChange:
                advices.Add($"relay.externalAddress \"auto\" does not use {publicAddress} behind such a NAT: set it yourself once the NAT maps 1:1, or it follows when a check finds the ports kept.");
                break;
            case ExternalAddressMode.Auto when behindNat && report.Mapping != NatMapping.EndpointIndependent:
                problems.Add(StatusReasons.PublicAddressUnverified);
                advices.Add($"relay.externalAddress \"auto\" uses the public address {publicAddress} only once the mapping is known to be endpoint-independent (RFC 4787 §4.1), and the check could not tell: " +
                            "list an RFC 5780 server (an EdgeRelay box with natDiscovery.alternateAddress) or two STUN servers in selfCheck.stunServers, or set relay.externalAddress yourself.");
                break;
            case ExternalAddressMode.Auto:
                detected = publicAddress;
                break;
            case ExternalAddressMode.Configured when !options.Advertised.Equals(publicAddress):
                problems.Add(StatusReasons.ExternalAddressMismatch);
                advices.Add($"relay.externalAddress is {options.Advertised}, but the STUN servers see this box as {publicAddress}: set relay.externalAddress to \"{publicAddress}\" (or \"auto\").");
                break;
            case ExternalAddressMode.NotSet when !options.Advertised.Equals(publicAddress):
                problems.Add(StatusReasons.ExternalAddressMismatch);
                advices.Add(behindNat
                    ? $"This box is behind a NAT whose public address is {publicAddress}, but relay.externalAddress is not set: clients are told relayed addresses on {options.Advertised}, which peers outside cannot reach. Set relay.externalAddress to \"{publicAddress}\" (or \"auto\")."
                    : $"This box's datagrams leave from {publicAddress}, but it advertises {options.Advertised}: set relay.externalAddress to \"{publicAddress}\", or relay.address to the address that faces the peers.");
                break;
        }

        // Without the mapping test (one plain STUN server), the address can be checked, the ports cannot.
        bool mappingUnknown = behindNat && report.Mapping == NatMapping.Unknown;
        if (mappingUnknown && options.ExternalAddress != ExternalAddressMode.Auto)
        {
            advices.Add("Whether the NAT keeps relayed ports is not known: list an RFC 5780 server (an EdgeRelay box with natDiscovery.alternateAddress) or two STUN servers in selfCheck.stunServers.");
        }
        if (behindNat && !portsChange && report.Filtering != NatFiltering.EndpointIndependent)
        {
            string filtering = report.Filtering == NatFiltering.Unknown ? "filters in a way the check could not tell" : $"has {NatBehaviorReport.Term(report.Filtering)}";
            advices.Add($"The NAT {filtering}: a peer reaches a relayed address once the relay has sent to it, which ICE's checks do, so WebRTC calls work. " +
                        $"For peers that send first, forward UDP ports {range} (relay.portRange) from {publicAddress} to {local}.");
        }

        string where = behindNat ? $"behind a NAT ({mappingTerm}), public address {publicAddress}" : $"no NAT: {publicAddress} is this box's own address";
        IPAddress? shown = options.ExternalAddress == ExternalAddressMode.Auto ? detected : options.Advertised;
        string advertised = shown is null ? string.Empty : $"; relayed addresses are advertised on {shown}";
        return new SelfCheckResult
        {
            CheckedAt = checkedAt,
            Report = report,
            PublicAddress = publicAddress,
            DetectedExternalAddress = detected,
            Problems = problems,
            Verdict = problems.Count > 0 ? $"{string.Join(", ", problems.Select(p => p.Code))}: {where}"
                : mappingUnknown ? $"the relayed address is right, the ports are not verified: {where}{advertised}"
                : $"relayed addresses are right: {where}{advertised}",
            Advice = advices,
        };
    }
}
