using System.Net;
using EdgeRelay.Appliance.Diagnostics;
using EdgeRelay.Appliance.Status;

namespace EdgeRelay.Appliance.Tests.Diagnostics;

/// <summary>
/// <see cref="SelfCheck.Evaluate"/>: what a NAT behaviour report means for the relayed addresses the box hands
/// out, for each way relay.externalAddress can be given. The reports are what the probe writes behind
/// real NATs (the namespace tests in EdgeRelay.Tests show it does).
/// </summary>
public sealed class SelfCheckTests
{
    private static readonly IPAddress Public = IPAddress.Parse("203.0.113.7");
    private static readonly IPAddress Private = IPAddress.Parse("192.168.1.20");
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);

    private static NatBehaviorReport Report(NatMapping mapping, NatFiltering filtering = NatFiltering.AddressAndPortDependent,
        bool behindNat = true, bool portPreserved = true, IPAddress? mapped = null) => new()
    {
        Servers = "stun.example.net:3478",
        UdpWorks = true,
        MappedAddress = $"{mapped ?? Public}:50000",
        MappedIPAddress = mapped ?? Public,
        BehindNat = behindNat,
        Mapping = mapping,
        Filtering = filtering,
        PortPreserved = portPreserved,
        Findings = [new NatFinding("udp", "yes", "test I")],
    };

    private static readonly NatBehaviorReport NoAnswer = new()
    {
        Servers = "stun.example.net:3478",
        UdpWorks = false,
        Findings = [new NatFinding("udp", "no answer", "test I, RFC 5780 §4.2: nothing came back from 198.51.100.1:3478 within 2 s")],
    };

    private static SelfCheckOptions Options(ExternalAddressMode mode, IPAddress advertised) => new()
    {
        Servers = [new StunServerAddress("stun.example.net", 3478)],
        LocalAddress = Private,
        RelayPortMin = 50000,
        RelayPortMax = 50999,
        ExternalAddress = mode,
        Advertised = advertised,
    };

    private static SelfCheckResult Evaluate(NatBehaviorReport report, ExternalAddressMode mode, IPAddress? advertised = null) =>
        SelfCheck.Evaluate(report, Options(mode, advertised ?? Private), Now);

    [Fact]
    public void A_configured_external_address_that_is_not_the_public_one_is_a_mismatch_that_names_the_right_one()
    {
        SelfCheckResult result = Evaluate(Report(NatMapping.EndpointIndependent), ExternalAddressMode.Configured, IPAddress.Parse("198.51.100.9"));

        Assert.Equal([StatusReasons.ExternalAddressMismatch], result.Problems);
        Assert.Equal(Public, result.PublicAddress);
        Assert.Null(result.DetectedExternalAddress);
        Assert.Contains(result.Advice, a => a.Contains("relay.externalAddress is 198.51.100.9", StringComparison.Ordinal)
                                            && a.Contains("set relay.externalAddress to \"203.0.113.7\"", StringComparison.Ordinal));
        Assert.StartsWith("D7-external-address-mismatch: behind a NAT (endpoint-independent mapping), public address 203.0.113.7", result.Verdict, StringComparison.Ordinal);
    }

    [Fact]
    public void The_right_external_address_behind_a_port_keeping_NAT_passes_and_advises_forwarding_for_peers_that_send_first()
    {
        SelfCheckResult result = Evaluate(Report(NatMapping.EndpointIndependent), ExternalAddressMode.Configured, Public);

        Assert.Empty(result.Problems);
        Assert.Equal("relayed addresses are right: behind a NAT (endpoint-independent mapping), public address 203.0.113.7; relayed addresses are advertised on 203.0.113.7",
            result.Verdict);
        string advice = Assert.Single(result.Advice);
        Assert.Contains("address and port-dependent filtering", advice, StringComparison.Ordinal);
        Assert.Contains("forward UDP ports 50000-50999 (relay.portRange) from 203.0.113.7 to this box (192.168.1.20)", advice, StringComparison.Ordinal);
    }

    [Fact]
    public void Endpoint_independent_filtering_needs_no_advice()
    {
        SelfCheckResult result = Evaluate(Report(NatMapping.EndpointIndependent, NatFiltering.EndpointIndependent), ExternalAddressMode.Configured, Public);

        Assert.Empty(result.Problems);
        Assert.Empty(result.Advice);
    }

    [Fact]
    public void Behind_a_NAT_without_an_external_address_the_private_advertised_address_is_a_mismatch()
    {
        SelfCheckResult result = Evaluate(Report(NatMapping.EndpointIndependent), ExternalAddressMode.NotSet, Private);

        Assert.Contains(StatusReasons.ExternalAddressMismatch, result.Problems);
        Assert.Contains(result.Advice, a => a.Contains("relay.externalAddress is not set", StringComparison.Ordinal)
                                            && a.Contains("relayed addresses on 192.168.1.20", StringComparison.Ordinal));
    }

    [Fact]
    public void A_host_with_its_own_public_address_and_no_external_address_passes()
    {
        SelfCheckResult result = Evaluate(Report(NatMapping.NoNat, NatFiltering.EndpointIndependent, behindNat: false), ExternalAddressMode.NotSet, Public);

        Assert.Empty(result.Problems);
        Assert.Empty(result.Advice);
        Assert.Contains("no NAT: 203.0.113.7 is this box's own address", result.Verdict, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(NatMapping.AddressDependent)]
    [InlineData(NatMapping.AddressAndPortDependent)]
    [InlineData(NatMapping.Dependent)]
    public void A_symmetric_NAT_is_unsuitable_even_with_the_right_external_address(NatMapping mapping)
    {
        SelfCheckResult result = Evaluate(Report(mapping), ExternalAddressMode.Configured, Public);

        Assert.Equal([StatusReasons.NatUnsuitable], result.Problems);
        Assert.Contains(result.Advice, a => a.Contains(NatBehaviorReport.Term(mapping), StringComparison.Ordinal) && a.Contains("1:1", StringComparison.Ordinal));
        // Filtering advice would mislead: forwarding alone does not make the ports the same outside.
        Assert.Single(result.Advice);
    }

    [Fact]
    public void An_endpoint_independent_NAT_that_does_not_keep_ports_is_unsuitable()
    {
        SelfCheckResult result = Evaluate(Report(NatMapping.EndpointIndependent, portPreserved: false), ExternalAddressMode.Configured, Public);

        Assert.Equal([StatusReasons.NatUnsuitable], result.Problems);
        Assert.Contains(result.Advice, a => a.Contains("does not keep the local port", StringComparison.Ordinal));
    }

    [Fact]
    public void Auto_takes_the_public_address_behind_an_endpoint_independent_NAT()
    {
        SelfCheckResult result = Evaluate(Report(NatMapping.EndpointIndependent), ExternalAddressMode.Auto);

        Assert.Empty(result.Problems);
        Assert.Equal(Public, result.DetectedExternalAddress);
        Assert.EndsWith("relayed addresses are advertised on 203.0.113.7", result.Verdict, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_takes_the_hosts_own_public_address_without_a_NAT()
    {
        SelfCheckResult result = Evaluate(Report(NatMapping.NoNat, behindNat: false), ExternalAddressMode.Auto);

        Assert.Empty(result.Problems);
        Assert.Equal(Public, result.DetectedExternalAddress);
    }

    [Fact]
    public void Auto_refuses_to_guess_behind_a_symmetric_NAT()
    {
        SelfCheckResult result = Evaluate(Report(NatMapping.AddressAndPortDependent), ExternalAddressMode.Auto);

        Assert.Equal([StatusReasons.NatUnsuitable], result.Problems);
        Assert.Null(result.DetectedExternalAddress);
        Assert.Contains(result.Advice, a => a.Contains("\"auto\" does not use 203.0.113.7", StringComparison.Ordinal));
    }

    [Fact]
    public void Auto_refuses_to_guess_when_the_mapping_could_not_be_tested()
    {
        // One plain STUN server: no OTHER-ADDRESS, no second server, so RFC 5780 §4.3 cannot run.
        SelfCheckResult result = Evaluate(Report(NatMapping.Unknown, NatFiltering.Unknown), ExternalAddressMode.Auto);

        Assert.Equal([StatusReasons.PublicAddressUnverified], result.Problems);
        Assert.Null(result.DetectedExternalAddress);
        Assert.Contains(result.Advice, a => a.Contains("RFC 5780 server", StringComparison.Ordinal) && a.Contains("two STUN servers", StringComparison.Ordinal));
    }

    [Fact]
    public void With_one_plain_STUN_server_the_address_is_checked_and_the_ports_are_said_to_be_unverified()
    {
        SelfCheckResult result = Evaluate(Report(NatMapping.Unknown, NatFiltering.Unknown), ExternalAddressMode.Configured, Public);

        Assert.Empty(result.Problems);
        Assert.StartsWith("the relayed address is right, the ports are not verified", result.Verdict, StringComparison.Ordinal);
        Assert.Contains(result.Advice, a => a.Contains("Whether the NAT keeps relayed ports is not known", StringComparison.Ordinal));
    }

    [Fact]
    public void A_mapped_address_of_another_family_than_the_relay_address_verifies_nothing()
    {
        SelfCheckResult result = Evaluate(Report(NatMapping.EndpointIndependent, mapped: IPAddress.Parse("2001:db8::7")), ExternalAddressMode.Auto);

        Assert.Equal([StatusReasons.PublicAddressUnverified], result.Problems);
        Assert.Null(result.DetectedExternalAddress);
        Assert.StartsWith("the STUN server saw 2001:db8::7", result.Verdict, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ExternalAddressMode.NotSet)]
    [InlineData(ExternalAddressMode.Configured)]
    [InlineData(ExternalAddressMode.Auto)]
    public void No_answer_leaves_the_public_address_unverified_and_says_where_it_asked(ExternalAddressMode mode)
    {
        SelfCheckResult result = Evaluate(NoAnswer, mode, Public);

        Assert.Equal([StatusReasons.PublicAddressUnverified], result.Problems);
        Assert.Null(result.PublicAddress);
        Assert.Null(result.DetectedExternalAddress);
        Assert.Contains("nothing came back from 198.51.100.1:3478", result.Verdict, StringComparison.Ordinal);
        Assert.Contains(result.Advice, a => a.Contains("stun.example.net:3478", StringComparison.Ordinal));
        Assert.Equal(mode == ExternalAddressMode.Auto, result.Advice.Any(a => a.Contains("\"auto\" keeps", StringComparison.Ordinal)));
    }
}
