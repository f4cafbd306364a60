using System.Globalization;
using System.Text.Json;
using EdgeRelay.Net;
using EdgeRelay.Tests.Interop;
using EdgeRelay.Tests.Support;
using static EdgeRelay.Tests.Probe.NatProbeOutput;

namespace EdgeRelay.Tests.Probe;

/// <summary>
/// <c>edgerelay probe nat</c>, the shipped binary, against EdgeRelay as the RFC 5780 server on loopback
/// (127.0.0.1 and 127.0.0.2, no NAT in between): every test with two addresses, what is possible with one,
/// two plain servers, nothing listening, and the command line. NatBehindLinuxNatTests puts a real NAT
/// in between.
/// </summary>
public sealed class NatProbeCommandTests
{
    private static string Stun(RunningRelay relay) => $"127.0.0.1:{relay.PortText}";

    [Fact]
    public async Task Against_two_addresses_on_loopback_it_finds_no_NAT_and_endpoint_independent_filtering()
    {
        await using RunningRelay relay = Rfc5780NatDiscoveryTests.Start(twoAddresses: true, SocketBackend.Auto);

        (int exit, string output) = Run("--stun", Stun(relay));

        Assert.True(exit == 0, output);
        Assert.Equal("yes", Finding(output, "udp"));
        Assert.Equal("no NAT", Finding(output, "nat"));
        // RFC 5780 §4.3: tests I and II got the same mapped address, the host's own.
        Assert.Equal("no NAT", Finding(output, "mapping"));
        Assert.Contains("tests I and II", output, StringComparison.Ordinal);
        Assert.Equal("endpoint-independent filtering", Finding(output, "filtering"));
        Assert.Equal("hairpinning", Finding(output, "hairpinning"));
        Assert.Equal("preserved", Finding(output, "port"));
        Assert.Equal("not measured", Finding(output, "lifetime"));
        Assert.StartsWith("WebRTC: no NAT", Verdict(output), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Against_one_address_it_says_that_mapping_and_filtering_need_a_server_with_two_addresses()
    {
        await using RunningRelay relay = Rfc5780NatDiscoveryTests.Start(twoAddresses: false, SocketBackend.Auto);

        (int exit, string output) = Run("--stun", Stun(relay));

        Assert.True(exit == 0, output);
        Assert.Equal("yes", Finding(output, "udp"));
        Assert.Equal("no NAT", Finding(output, "nat"));
        Assert.Equal("not tested", Finding(output, "mapping"));
        Assert.Equal("not tested", Finding(output, "filtering"));
        Assert.Contains("RFC 5780 §4.3 needs a server with two addresses", output, StringComparison.Ordinal);
        Assert.Contains("RFC 5780 §4.4 needs a server with two addresses", output, StringComparison.Ordinal);
        Assert.Contains("sent no OTHER-ADDRESS", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_two_plain_servers_the_mapping_test_compares_them_and_says_so()
    {
        await using RunningRelay first = Rfc5780NatDiscoveryTests.Start(twoAddresses: false, SocketBackend.Auto);
        await using RunningRelay second = Rfc5780NatDiscoveryTests.Start(twoAddresses: false, SocketBackend.Auto);

        (int exit, string output) = Run("--stun", $"{Stun(first)},{Stun(second)}");

        Assert.True(exit == 0, output);
        Assert.Equal("no NAT", Finding(output, "mapping"));
        Assert.Contains("compared two servers", output, StringComparison.Ordinal);
        Assert.Equal("not tested", Finding(output, "filtering"));
    }

    [Fact]
    public void With_nothing_listening_it_says_UDP_is_blocked_and_exits_1()
    {
        int port = Ports.FreeUdpPort();

        (int exit, string output) = Run("--stun", $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", "--timeout", "0.5");

        Assert.True(exit == 1, output);
        Assert.Equal("no answer", Finding(output, "udp"));
        Assert.Contains("only TURN over TCP or TLS", Verdict(output), StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_json_it_prints_the_behaviours_as_keys_and_the_findings()
    {
        await using RunningRelay relay = Rfc5780NatDiscoveryTests.Start(twoAddresses: true, SocketBackend.Auto);

        (int exit, string output) = Run("--stun", Stun(relay), "--json");

        Assert.True(exit == 0, output);
        using JsonDocument document = JsonDocument.Parse(output);
        JsonElement root = document.RootElement;
        Assert.True(root.GetProperty("completed").GetBoolean());
        Assert.Equal("no-nat", root.GetProperty("mapping").GetString());
        Assert.Equal("endpoint-independent", root.GetProperty("filtering").GetString());
        Assert.True(root.GetProperty("hairpinning").GetBoolean());
        Assert.Contains(root.GetProperty("findings").EnumerateArray(), f => f.GetProperty("name").GetString() == "mapping");
        Assert.StartsWith("WebRTC: ", root.GetProperty("verdict").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Asked_for_the_binding_lifetime_it_measures_up_to_the_maximum()
    {
        await using RunningRelay relay = Rfc5780NatDiscoveryTests.Start(twoAddresses: true, SocketBackend.Auto);

        (int exit, string output) = Run("--stun", Stun(relay), "--lifetime-max", "2");

        // No NAT: nothing expires, so RFC 5780 §4.6 can only say "at least" the longest wait.
        Assert.True(exit == 0, output);
        Assert.Equal("at least 2 s", Finding(output, "lifetime"));
    }

    [Theory]
    [InlineData(new string[0], "the STUN server is needed")]
    [InlineData(new[] { "--stun" }, "--stun needs a value")]
    [InlineData(new[] { "--stun", "host:99999" }, "is not a number from 1 to 65535")]
    [InlineData(new[] { "--stun", "2001:db8::1" }, "between brackets")]
    [InlineData(new[] { "--stun", "a,b,c" }, "one server, or two")]
    [InlineData(new[] { "--stun", "a", "--timeout", "0" }, "--timeout")]
    [InlineData(new[] { "--stun", "a", "--lifetime-max", "x" }, "--lifetime-max")]
    [InlineData(new[] { "--stun", "a", "--bogus" }, "unknown option \"--bogus\"")]
    public void A_usage_error_exits_64_and_names_the_problem(string[] arguments, string message)
    {
        (int exit, string output) = Run(arguments);

        Assert.True(exit == 64, output);
        Assert.Contains(message, output, StringComparison.Ordinal);
        Assert.Contains("Usage: edgerelay probe nat", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_describes_the_tests_in_the_RFCs_terms_and_exits_0()
    {
        (int exit, string output) = Run("--help");

        Assert.True(exit == 0, output);
        Assert.Contains("endpoint-independent", output, StringComparison.Ordinal);
        Assert.Contains("address and port-dependent mapping", output, StringComparison.Ordinal);
        Assert.Contains("Exit codes: 0 the tests ran, 1 UDP is blocked", output, StringComparison.Ordinal);
    }
}
