using System.Net;
using EdgeRelay.Configuration;
using Microsoft.Extensions.Logging;

namespace EdgeRelay.Tests.Configuration;

public sealed class ConfigurationReaderTests
{
    private const string Listener = """ "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }] """;

    private static string ErrorOf(string json) => Assert.Throws<ConfigurationException>(() => ConfigurationReader.Parse(json)).Message;

    [Fact]
    public void The_design_example_is_read_whole()
    {
        RelayConfiguration c = ConfigurationReader.Parse("""
            {
              "realm": "edgerelay.local",
              "listeners": [
                { "transport": "udp", "endpoint": "0.0.0.0:3478" },
                { "transport": "tcp", "endpoint": "0.0.0.0:3478" },
                { "transport": "tls", "endpoint": "0.0.0.0:5349", "certificate": "/etc/edgerelay/tls.crt", "privateKey": "/etc/edgerelay/tls.key" }
              ],
              "relay": { "address": "0.0.0.0", "externalAddress": "203.0.113.7", "portRange": "49152-65535" },
              "auth": { "users": { "alice": "correct horse battery staple" }, "sharedSecrets": ["rest-api-secret"] },
              "peers": { "allowLoopback": false, "allow": ["10.20.0.0/16"], "deny": [] },
              "status": { "endpoint": "0.0.0.0:8080" }
            }
            """);
        Assert.Equal("edgerelay.local", c.Realm);
        Assert.Equal(3, c.Listeners.Count);
        Assert.Equal(ListenerTransport.Tls, c.Listeners[2].Transport);
        Assert.Equal(new IPEndPoint(IPAddress.Any, 5349), c.Listeners[2].Endpoint);
        Assert.Equal("/etc/edgerelay/tls.key", c.Listeners[2].PrivateKey);
        Assert.Equal(IPAddress.Parse("203.0.113.7"), c.Relay.ExternalAddress);
        Assert.Equal((49152, 65535), (c.Relay.PortMin, c.Relay.PortMax));
        Assert.Equal("correct horse battery staple", c.Auth.Users["alice"]);
        Assert.Equal(["rest-api-secret"], c.Auth.SharedSecrets);
        Assert.Equal(IPNetwork.Parse("10.20.0.0/16"), Assert.Single(c.Peers.Allow));
        Assert.Equal(8080, c.Status!.Endpoint.Port);
        Assert.Equal("/var/lib/edgerelay", c.StateDirectory);
    }

    [Fact]
    public void Defaults_are_safe()
    {
        RelayConfiguration c = ConfigurationReader.Parse($$"""{ {{Listener}} }""");
        Assert.False(c.Auth.AllowAnonymous);
        Assert.False(c.Peers.AllowLoopback);
        Assert.Empty(c.Auth.Users);
        Assert.Equal(86400, c.Auth.RestMaxValiditySeconds);
        Assert.Equal(LogLevel.Information, c.LogLevel);
        Assert.Null(c.Status);
        Assert.Equal(Appliance.Leds.LedDriverKind.None, c.Leds.Driver);
    }

    [Fact]
    public void Comments_and_trailing_commas_are_allowed()
    {
        RelayConfiguration c = ConfigurationReader.Parse("""
            {
              // where clients connect
              "listeners": [{ "transport": "udp", "endpoint": "[::]:3478" },],
            }
            """);
        Assert.Equal(IPAddress.IPv6Any, c.Listeners[0].Endpoint.Address);
    }

    [Theory]
    [InlineData("""{ "listeners": [], "bogus": 1 }""", "bogus: unknown key")]
    [InlineData("""{ "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478", "port": 1 }] }""", "listeners[0].port: unknown key")]
    [InlineData("""{ "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }], "auth": { "user": {} } }""", "auth.user: unknown key (expected one of: users,")]
    [InlineData("""{ "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }], "peers": { "allowloopback": true } }""", "peers.allowloopback: unknown key")]
    public void Unknown_keys_are_named(string json, string expected) => Assert.Contains(expected, ErrorOf(json));

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("0.0.0.0:0")]
    [InlineData("0.0.0.0:70000")]
    [InlineData("10.1:3478")]
    [InlineData("::1:3478")]
    [InlineData("[::1]")]
    [InlineData("localhost:3478")]
    [InlineData("fe80::1%eth0:3478")]
    public void Malformed_endpoints_are_named_with_value_and_expectation(string endpoint)
    {
        string message = ErrorOf($$"""{ "listeners": [{ "transport": "udp", "endpoint": "{{endpoint}}" }] }""");
        Assert.Contains($"listeners[0].endpoint: \"{endpoint}\" is not valid: expected IP:PORT", message);
    }

    [Theory]
    [InlineData(""" "listeners": [{ "transport": "sctp", "endpoint": "0.0.0.0:3478" }] """, "listeners[0].transport: \"sctp\" is not valid")]
    [InlineData(""" "listeners": [{ "transport": "tls", "endpoint": "0.0.0.0:5349" }] """, "listeners[0]: a tls listener needs")]
    [InlineData(""" "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478", "certificate": "/x" }] """, "belong to tls listeners only")]
    [InlineData(""" "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }, { "transport": "udp", "endpoint": "0.0.0.0:3478" }] """, "listed twice")]
    [InlineData(""" "listeners": "0.0.0.0:3478" """, "listeners: \"0.0.0.0:3478\" is not valid: expected an array")]
    [InlineData(""" "listeners": [] """, "listeners: missing")]
    [InlineData(Listener + """, "realm": "" """, "realm: \"\" is not valid")]
    [InlineData(Listener + """, "relay": { "address": "not-an-ip" } """, "relay.address: \"not-an-ip\" is not valid")]
    [InlineData(Listener + """, "relay": { "externalAddress": "0.0.0.0" } """, "relay.externalAddress: \"0.0.0.0\" is not valid")]
    [InlineData(Listener + """, "relay": { "externalAddress": "2001:db8::1" } """, "relay.externalAddress: \"2001:db8::1\" is not valid: expected an IPv4 address")]
    [InlineData(Listener + """, "relay": { "ipv6Address": "0.0.0.0" } """, "relay.ipv6Address: \"0.0.0.0\" is not valid: expected an IPv6 address")]
    [InlineData(Listener + """, "relay": { "ipv6ExternalAddress": "2001:db8::1" } """, "relay.ipv6ExternalAddress: set, but relay.ipv6Address is not")]
    [InlineData(Listener + """, "limits": { "maxBufferedBytesPerConnection": 1024 } """, "limits.maxBufferedBytesPerConnection: 1024 is not valid")]
    [InlineData(Listener + """, "peers": { "allow": ["10.0.0.0/33"] } """, "peers.allow[0]: \"10.0.0.0/33\" is not valid: expected a CIDR")]
    [InlineData(Listener + """, "peers": { "deny": ["10.0.0.1/8"] } """, "peers.deny[0]: \"10.0.0.1/8\" is not valid")]
    [InlineData(Listener + """, "peers": { "allowLoopback": "yes" } """, "peers.allowLoopback: \"yes\" is not valid: expected true or false")]
    [InlineData(Listener + """, "limits": { "maxAllocations": 0 } """, "limits.maxAllocations: 0 is not valid: expected a whole number from 1")]
    [InlineData(Listener + """, "limits": { "maxLifetimeSeconds": 60 } """, "limits.maxLifetimeSeconds: 60 is not valid")]
    [InlineData(Listener + """, "auth": { "sharedSecrets": ["short"] } """, "auth.sharedSecrets[0]: the secret is not valid")]
    [InlineData(Listener + """, "auth": { "sharedSecrets": "one" } """, "auth.sharedSecrets: \"one\" is not valid: expected an array")]
    [InlineData(Listener + """, "stateDirectory": "var/lib" """, "stateDirectory: \"var/lib\" is not valid: expected an absolute path")]
    [InlineData(Listener + """, "logLevel": "loud" """, "logLevel: \"loud\" is not valid")]
    [InlineData(Listener + """, "engine": { "backend": "epoll" } """, "engine.backend: \"epoll\" is not valid: expected \"auto\", \"io_uring\", \"recvmmsg\" or \"portable\"")]
    [InlineData(Listener + """, "engine": { "loops": -1 } """, "engine.loops: -1 is not valid")]
    [InlineData(Listener + """, "leds": { "driver": "neopixel" } """, "leds.driver: \"neopixel\" is not valid: expected \"gpio\", \"sysfs\", \"console\" or \"none\"")]
    [InlineData(Listener + """, "leds": { "driver": "gpio" } """, "leds.greenPin: missing: the gpio driver needs at least one of greenPin, amberPin, redPin")]
    [InlineData(Listener + """, "leds": { "driver": "gpio", "redPin": 5000 } """, "leds.redPin: 5000 is not valid")]
    [InlineData(Listener + """, "leds": { "driver": "sysfs", "greenName": "../../etc" } """, "leds.greenName: \"../../etc\" is not valid: expected the name of an LED directory")]
    [InlineData(Listener + """, "leds": { "sysfsRoot": "leds" } """, "leds.sysfsRoot: \"leds\" is not valid: expected an absolute path")]
    [InlineData(Listener + """, "leds": { "colour": "red" } """, "leds.colour")]
    [InlineData(Listener + """, "status": { "endpoint": "127.0.0.1:8080", "hostNames": "box" } """, "status.hostNames: \"box\" is not valid: expected an array")]
    [InlineData("""[1, 2]""", "configuration: expected an object")]
    [InlineData("""{ "listeners": [ """, "not valid JSON")]
    public void Bad_values_name_key_value_and_expectation(string json, string expected)
    {
        string wrapped = json.TrimStart().StartsWith('{') || json.TrimStart().StartsWith('[') ? json : "{" + json + "}";
        Assert.Contains(expected, ErrorOf(wrapped));
    }

    [Fact]
    public void A_short_admin_token_is_refused_without_repeating_it()
    {
        string message = ErrorOf($$"""{ {{Listener}}, "status": { "endpoint": "127.0.0.1:8080", "adminToken": "letmein-please" } }""");
        Assert.Contains("status.adminToken: too short: expected at least 20 characters", message);
        Assert.DoesNotContain("letmein-please", message);
    }

    [Fact]
    public void Leds_and_status_page_are_read()
    {
        RelayConfiguration configuration = ConfigurationReader.Parse($$"""
            { {{Listener}},
              "status": { "endpoint": "192.0.2.1:8080", "adminToken": "0123456789abcdefghij", "hostNames": ["edgerelay.local"] },
              "leds": { "driver": "gpio", "gpioChip": 4, "greenPin": 17, "redPin": 27, "activeLow": true } }
            """);
        Assert.Equal("192.0.2.1:8080", configuration.Status!.Endpoint.ToString());
        Assert.Equal("0123456789abcdefghij", configuration.Status.AdminToken);
        Assert.Equal(["edgerelay.local"], configuration.Status.HostNames);
        Assert.Equal(Appliance.Leds.LedDriverKind.Gpio, configuration.Leds.Driver);
        Assert.Equal(4, configuration.Leds.GpioChip);
        Assert.Equal(17, configuration.Leds.GreenPin);
        Assert.Null(configuration.Leds.AmberPin);
        Assert.Equal(27, configuration.Leds.RedPin);
        Assert.True(configuration.Leds.ActiveLow);

        RelayConfiguration sysfs = ConfigurationReader.Parse($$"""{ {{Listener}}, "leds": { "driver": "sysfs", "greenName": "ACT" } }""");
        Assert.Equal(Appliance.Leds.LedDriverKind.Sysfs, sysfs.Leds.Driver);
        Assert.Equal("/sys/class/leds", sysfs.Leds.SysfsRoot);
        Assert.Equal("ACT", sysfs.Leds.GreenName);
    }

    [Fact]
    public void A_short_password_is_refused_without_repeating_it()
    {
        string message = ErrorOf($$"""{ {{Listener}}, "auth": { "users": { "bob": "hunter2" } } }""");
        Assert.Contains("auth.users.bob: the password is not valid: expected a string of at least 8 characters", message);
        Assert.DoesNotContain("hunter2", message);
    }
}
