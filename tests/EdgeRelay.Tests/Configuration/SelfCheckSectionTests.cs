using System.Net;
using EdgeRelay.Appliance.Diagnostics;
using EdgeRelay.Configuration;

namespace EdgeRelay.Tests.Configuration;

/// <summary>The selfCheck section and relay.externalAddress "auto": off by default, and every bad value named.</summary>
public sealed class SelfCheckSectionTests
{
    /// <summary>The object's keys with a listener added, which every file needs.</summary>
    private static RelayConfiguration Parse(string json) =>
        ConfigurationReader.Parse(json.Trim().Insert(1, """ "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }],"""));

    private static string ErrorOf(string json) => Assert.Throws<ConfigurationException>(() => Parse(json)).Message;

    [Fact]
    public void It_is_off_by_default()
    {
        RelayConfiguration c = ConfigurationReader.Parse("""{ "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }] }""");

        Assert.False(c.SelfCheck.Enabled);
        Assert.False(c.Relay.ExternalAddressAuto);
    }

    [Fact]
    public void Servers_are_host_and_port_with_3478_by_default_and_the_interval_and_timeout_have_defaults()
    {
        RelayConfiguration c = Parse("""
            { "selfCheck": { "stunServers": ["stun.example.net", "198.51.100.1:3479"] } }
            """);

        Assert.Equal([new StunServerAddress("stun.example.net", 3478), new StunServerAddress("198.51.100.1", 3479)],
            c.SelfCheck.StunServers);
        Assert.Equal(900, c.SelfCheck.IntervalSeconds);
        Assert.Equal(2, c.SelfCheck.TimeoutSeconds);
    }

    [Theory]
    [InlineData("""{ "selfCheck": { "stunServers": ["stun.example.net:99999"] } }""", "selfCheck.stunServers[0]: \"stun.example.net:99999\": the port \"99999\" is not a number from 1 to 65535")]
    [InlineData("""{ "selfCheck": { "stunServers": ["2001:db8::1"] } }""", "selfCheck.stunServers[0]: \"2001:db8::1\": write an IPv6 address between brackets")]
    [InlineData("""{ "selfCheck": { "stunServers": ["[2001:db8::1]:3478"] } }""", "selfCheck.stunServers[0]: \"[2001:db8::1]:3478\" is not valid: expected an IPv4 address or a host name")]
    [InlineData("""{ "selfCheck": { "stunServers": "stun.example.net" } }""", "selfCheck.stunServers: \"stun.example.net\" is not valid: expected an array")]
    [InlineData("""{ "selfCheck": { "stunServers": ["a:1"], "intervalSeconds": 5 } }""", "selfCheck.intervalSeconds: 5 is not valid")]
    [InlineData("""{ "selfCheck": { "stunServers": ["a:1"], "timeoutSeconds": 0 } }""", "selfCheck.timeoutSeconds: 0 is not valid")]
    [InlineData("""{ "selfCheck": { "servers": ["a:1"] } }""", "selfCheck.servers")]
    [InlineData("""{ "relay": { "externalAddress": "auto" } }""", "relay.externalAddress: \"auto\" needs selfCheck.stunServers")]
    [InlineData("""{ "relay": { "externalAddress": "Auto" }, "selfCheck": { "stunServers": ["a:1"] } }""", "relay.externalAddress: \"Auto\" is not valid: expected an IPv4 address such as \"203.0.113.7\", or \"auto\"")]
    public void A_bad_value_names_the_key_and_what_is_expected(string json, string expected)
    {
        Assert.Contains(expected, ErrorOf(json), StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_advertises_the_relays_own_address_until_the_self_check_vouches_for_a_public_one()
    {
        RelayConfiguration c = Parse("""
            { "relay": { "address": "192.168.1.20", "externalAddress": "auto" }, "selfCheck": { "stunServers": ["stun.example.net"] } }
            """);

        Assert.True(c.Relay.ExternalAddressAuto);
        Assert.Null(c.Relay.ExternalAddress);
        Assert.Equal(IPAddress.Parse("192.168.1.20"), TurnOptionsFactory.Create(c, [IPAddress.Loopback]).AdvertisedRelayAddressIPv4);
        Assert.Equal(IPAddress.Parse("203.0.113.7"),
            TurnOptionsFactory.Create(c, [IPAddress.Loopback], IPAddress.Parse("203.0.113.7")).AdvertisedRelayAddressIPv4);
    }

    [Fact]
    public void A_configured_external_address_is_never_replaced_by_a_detected_one()
    {
        RelayConfiguration c = Parse("""{ "relay": { "externalAddress": "198.51.100.9" } }""");

        Assert.Equal(IPAddress.Parse("198.51.100.9"),
            TurnOptionsFactory.Create(c, [IPAddress.Loopback], IPAddress.Parse("203.0.113.7")).AdvertisedRelayAddressIPv4);
    }

    [Fact]
    public void Sections_that_name_the_same_servers_are_equal_so_an_unchanged_document_does_not_restart_the_check()
    {
        const string Json = """{ "selfCheck": { "stunServers": ["stun.example.net", "198.51.100.1:3479"], "intervalSeconds": 60 } }""";

        Assert.Equal(Parse(Json).SelfCheck, Parse(Json).SelfCheck);
        Assert.NotEqual(Parse(Json).SelfCheck, Parse(Json.Replace("60", "61", StringComparison.Ordinal)).SelfCheck);
    }
}
