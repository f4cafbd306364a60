using System.Net;
using EdgeRelay.Configuration;
using EdgeRelay.Stun;

namespace EdgeRelay.Tests.Configuration;

/// <summary>alternateServers: where 300 Try Alternate sends new allocations; every bad value named.</summary>
public sealed class AlternateServersTests
{
    private static RelayConfiguration Parse(string alternates) => ConfigurationReader.Parse($$"""
        { "listeners": [{ "transport": "udp", "endpoint": "192.0.2.1:3478" }], "alternateServers": {{alternates}} }
        """);

    [Fact]
    public void They_are_none_by_default_and_go_to_the_core_as_transport_addresses()
    {
        Assert.Empty(ConfigurationReader.Parse("""{ "listeners": [{ "transport": "udp", "endpoint": "192.0.2.1:3478" }] }""").AlternateServers);

        RelayConfiguration c = Parse("""["198.51.100.2:3478", "[2001:db8::2]:3478"]""");

        Assert.Equal([IPEndPoint.Parse("198.51.100.2:3478"), IPEndPoint.Parse("[2001:db8::2]:3478")], c.AlternateServers);
        Assert.Equal([TransportAddress.FromIPEndPoint(IPEndPoint.Parse("198.51.100.2:3478")), TransportAddress.FromIPEndPoint(IPEndPoint.Parse("[2001:db8::2]:3478"))],
            TurnOptionsFactory.Create(c, [IPAddress.Loopback]).AlternateServers);
    }

    [Theory]
    [InlineData("""["198.51.100.2"]""", "alternateServers[0]: \"198.51.100.2\" is not valid: expected IP:PORT")]
    [InlineData("""["relay-2.example.com:3478"]""", "alternateServers[0]: \"relay-2.example.com:3478\" is not valid: expected IP:PORT")]
    [InlineData("""["198.51.100.2:3478", "0.0.0.0:3478"]""", "alternateServers[1]: \"0.0.0.0:3478\" is not valid: expected the address another relay is reached at")]
    [InlineData("""["192.0.2.1:3478"]""", "alternateServers[0]: \"192.0.2.1:3478\" is one of this relay's own listeners")]
    [InlineData("""[3478]""", "alternateServers[0]: 3478 is not valid: expected a string")]
    public void A_bad_value_names_the_key_and_what_is_expected(string alternates, string expected)
    {
        Assert.Contains(expected, Assert.Throws<ConfigurationException>(() => Parse(alternates)).Message, StringComparison.Ordinal);
    }
}
