using System.Net;
using EdgeRelay.Configuration;
using EdgeRelay.Turn;

namespace EdgeRelay.Tests.Configuration;

/// <summary>The natDiscovery section (RFC 5780 on UDP): off by default, and every bad value named.</summary>
public sealed class NatDiscoverySectionTests
{
    private static string Json(string natDiscovery, string listeners = """{ "transport": "udp", "endpoint": "192.0.2.1:3478" }""") =>
        $$"""{ "listeners": [{{listeners}}], "natDiscovery": {{natDiscovery}} }""";

    private static string ErrorOf(string json) => Assert.Throws<ConfigurationException>(() => ConfigurationReader.Parse(json)).Message;

    [Fact]
    public void It_is_off_by_default_and_the_core_gets_no_NAT_behaviour_discovery()
    {
        RelayConfiguration c = ConfigurationReader.Parse("""{ "listeners": [{ "transport": "udp", "endpoint": "192.0.2.1:3478" }] }""");
        Assert.False(c.NatDiscovery.Enabled);
        Assert.Null(TurnOptionsFactory.Create(c, [IPAddress.Loopback]).NatBehaviorDiscovery);

        RelayConfiguration off = ConfigurationReader.Parse(Json("""{ "enabled": false, "alternateAddress": "192.0.2.2", "alternatePort": 3479 }"""));
        Assert.Null(TurnOptionsFactory.Create(off, [IPAddress.Loopback]).NatBehaviorDiscovery);
    }

    [Fact]
    public void Two_addresses_make_the_four_endpoints_around_the_udp_listener()
    {
        RelayConfiguration c = ConfigurationReader.Parse(Json("""{ "enabled": true, "alternateAddress": "192.0.2.2", "alternatePort": 3479 }""",
            """{ "transport": "udp", "endpoint": "192.0.2.1:3478" }, { "transport": "tcp", "endpoint": "0.0.0.0:3478" }, { "transport": "udp", "endpoint": "[::]:3478" }"""));

        NatBehaviorDiscoveryOptions options = TurnOptionsFactory.Create(c, [IPAddress.Loopback]).NatBehaviorDiscovery!;
        Assert.Equal(IPEndPoint.Parse("192.0.2.1:3478"), options.Primary);
        Assert.Equal(IPAddress.Parse("192.0.2.2"), options.AlternateAddress);
        Assert.Equal(3479, options.AlternatePort);
        Assert.True(options.HasAlternate);
    }

    [Fact]
    public void One_address_is_allowed_and_has_no_alternate()
    {
        RelayConfiguration c = ConfigurationReader.Parse(Json("""{ "enabled": true }"""));

        NatBehaviorDiscoveryOptions options = TurnOptionsFactory.Create(c, [IPAddress.Loopback]).NatBehaviorDiscovery!;
        Assert.False(options.HasAlternate);
        Assert.Equal(1, options.EndpointCount);
    }

    [Fact]
    public void The_alternate_endpoints_are_never_peers()
    {
        RelayConfiguration c = ConfigurationReader.Parse(Json("""{ "enabled": true, "alternateAddress": "192.0.2.2", "alternatePort": 3479 }""")
            .Replace("\"natDiscovery\"", "\"peers\": { \"allow\": [\"192.0.2.0/24\"] }, \"natDiscovery\"", StringComparison.Ordinal));
        TurnServerOptions options = TurnOptionsFactory.Create(c, [IPAddress.Loopback]);

        Assert.Equal(EdgeRelay.Turn.Policy.PeerDecision.RefusedOwnService, options.PeerPolicy.Evaluate(IPAddress.Parse("192.0.2.2"), 3479));
        Assert.Equal(EdgeRelay.Turn.Policy.PeerDecision.RefusedOwnService, options.PeerPolicy.Evaluate(IPAddress.Parse("192.0.2.1"), 3479));
    }

    [Theory]
    [InlineData("""{ "enabled": "yes" }""", "natDiscovery.enabled")]
    [InlineData("""{ "enabled": true, "alternate": "192.0.2.2" }""", "natDiscovery.alternate")]
    [InlineData("""{ "enabled": true, "alternateAddress": "192.0.2" , "alternatePort": 3479 }""", "natDiscovery.alternateAddress: \"192.0.2\"")]
    [InlineData("""{ "enabled": true, "alternateAddress": "0.0.0.0", "alternatePort": 3479 }""", "natDiscovery.alternateAddress: \"0.0.0.0\"")]
    [InlineData("""{ "enabled": true, "alternateAddress": "192.0.2.2" }""", "natDiscovery.alternatePort: missing")]
    [InlineData("""{ "enabled": true, "alternatePort": 3479 }""", "natDiscovery.alternatePort: set, but natDiscovery.alternateAddress is not")]
    [InlineData("""{ "enabled": true, "alternateAddress": "192.0.2.2", "alternatePort": 0 }""", "natDiscovery.alternatePort")]
    [InlineData("""{ "enabled": true, "alternateAddress": "192.0.2.1", "alternatePort": 3479 }""", "natDiscovery.alternateAddress: \"192.0.2.1\"")]
    [InlineData("""{ "enabled": true, "alternateAddress": "192.0.2.2", "alternatePort": 3478 }""", "natDiscovery.alternatePort: \"3478\"")]
    [InlineData("""{ "enabled": true, "alternateAddress": "2001:db8::2", "alternatePort": 3479 }""", "specific IPv6 address")]
    public void Bad_values_name_the_key_and_what_was_expected(string section, string expected) =>
        Assert.Contains(expected, ErrorOf(Json(section)), StringComparison.Ordinal);

    [Fact]
    public void A_wildcard_udp_listener_cannot_be_the_primary_address()
    {
        string error = ErrorOf(Json("""{ "enabled": true }""", """{ "transport": "udp", "endpoint": "0.0.0.0:3478" }"""));
        Assert.Contains("natDiscovery.enabled: true needs a udp listener on a specific address (not 0.0.0.0 or ::)", error, StringComparison.Ordinal);
        Assert.Contains("RESPONSE-ORIGIN", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tcp_listener_is_not_enough_the_RFC_5780_tests_are_UDP_ones()
    {
        string error = ErrorOf(Json("""{ "enabled": true }""", """{ "transport": "tcp", "endpoint": "192.0.2.1:3478" }"""));
        Assert.Contains("needs a udp listener", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_candidate_udp_listeners_are_ambiguous()
    {
        string error = ErrorOf(Json("""{ "enabled": true }""",
            """{ "transport": "udp", "endpoint": "192.0.2.1:3478" }, { "transport": "udp", "endpoint": "192.0.2.9:3478" }"""));
        Assert.Contains("udp listeners 192.0.2.1:3478 and 192.0.2.9:3478 could each be RFC 5780's primary address", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("192.0.2.1:3479")]
    [InlineData("192.0.2.2:3478")]
    [InlineData("0.0.0.0:3479")]
    public void An_alternate_endpoint_that_a_listener_takes_is_refused(string listener)
    {
        string error = ErrorOf(Json("""{ "enabled": true, "alternateAddress": "192.0.2.2", "alternatePort": 3479 }""",
            $$"""{ "transport": "udp", "endpoint": "192.0.2.1:3478" }, { "transport": "udp", "endpoint": "{{listener}}" }"""));
        Assert.Contains("is taken by the udp listener", error, StringComparison.Ordinal);
    }
}
