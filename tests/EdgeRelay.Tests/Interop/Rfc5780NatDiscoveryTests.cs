using System.Globalization;
using System.Net;
using EdgeRelay.Configuration;
using EdgeRelay.Net;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Interop;

/// <summary>
/// coturn's RFC 5780 client, turnutils_natdiscovery, against EdgeRelay on loopback (127.0.0.1 and 127.0.0.2,
/// no NAT in between): with two addresses it runs the mapping and filtering tests to the end and finds
/// endpoint-independent behaviour; with one address it gets no OTHER-ADDRESS and so cannot run them (the
/// relay's start-up warning says the same: NatBehaviorDiscoveryEngineTests reads it).
/// </summary>
public sealed class Rfc5780NatDiscoveryTests
{
    private static readonly IPAddress Alternate = IPAddress.Parse("127.0.0.2");

    /// <summary>EdgeRelay as an RFC 5780 server on 127.0.0.1 (and 127.0.0.2 with <paramref name="twoAddresses"/>); NatProbeCommandTests uses it too.</summary>
    internal static RunningRelay Start(bool twoAddresses, SocketBackend backend)
    {
        int port = FreePortOnBoth();
        int alternatePort = twoAddresses ? FreePortOnBoth(except: port) : 0;
        var primary = new IPEndPoint(IPAddress.Loopback, port);
        return RunningRelay.StartWith([new ListenerConfiguration(ListenerTransport.Udp, primary, null, null)], allowLoopback: false,
            c => c with
            {
                Engine = new EngineSection { Backend = backend },
                NatDiscovery = new NatDiscoverySection
                {
                    Enabled = true,
                    Primary = primary,
                    AlternateAddress = twoAddresses ? Alternate : null,
                    AlternatePort = alternatePort,
                },
            });
    }

    private static int FreePortOnBoth(int except = 0)
    {
        for (int attempt = 0; ; attempt++)
        {
            int port = Ports.FreeUdpPort();
            using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram,
                System.Net.Sockets.ProtocolType.Udp);
            try
            {
                probe.Bind(new IPEndPoint(Alternate, port));
                if (port != except)
                {
                    return port;
                }
            }
            catch (System.Net.Sockets.SocketException) when (attempt < 50)
            {
            }
        }
    }

    private static (int ExitCode, string Output) NatDiscovery(RunningRelay relay, params string[] tests) =>
        ExternalProcess.Run(Coturn.Timeout, Coturn.Tool("turnutils_natdiscovery"),
            [.. tests, "-L", "127.0.0.1", "-p", relay.PortText, "127.0.0.1"]);

    [Theory]
    [InlineData(SocketBackend.IoUring)]
    [InlineData(SocketBackend.RecvMmsg)]
    [InlineData(SocketBackend.Portable)]
    public async Task Natdiscovery_completes_the_mapping_and_filtering_tests_and_finds_no_NAT_on_loopback(SocketBackend backend)
    {
        await using RunningRelay relay = Start(twoAddresses: true, backend);

        (int exit, string output) = NatDiscovery(relay, "-m", "-f");

        Assert.True(exit == 0, $"turnutils_natdiscovery exited {exit}:\n{output}");
        Assert.True(output.Contains("Endpoint Independent Mapping!", StringComparison.Ordinal), output);
        Assert.True(output.Contains("Endpoint Independent Filtering!", StringComparison.Ordinal), output);
        Assert.True(relay.Engine.Server.Counters.BindingRequests >= 4, output);
    }

    [Fact]
    public async Task Natdiscovery_with_padding_still_completes()
    {
        await using RunningRelay relay = Start(twoAddresses: true, SocketBackend.Auto);

        (int exit, string output) = NatDiscovery(relay, "-m", "-f", "-P");

        Assert.True(exit == 0, $"turnutils_natdiscovery exited {exit}:\n{output}");
        Assert.True(output.Contains("Endpoint Independent Mapping!", StringComparison.Ordinal), output);
        Assert.True(output.Contains("Endpoint Independent Filtering!", StringComparison.Ordinal), output);
    }

    [Fact]
    public async Task Natdiscovery_against_one_address_gets_no_OTHER_ADDRESS_and_reaches_no_filtering_verdict()
    {
        await using RunningRelay relay = Start(twoAddresses: false, SocketBackend.Auto);

        (int exit, string output) = NatDiscovery(relay, "-m", "-f");

        // No OTHER-ADDRESS (RFC 5780 §6): coturn's client sees no RFC 5780 server, stops after test I (which on
        // loopback finds no NAT) and never gets to a filtering verdict.
        Assert.True(exit == 0, $"turnutils_natdiscovery exited {exit}:\n{output}");
        Assert.True(output.Contains("No NAT!", StringComparison.Ordinal), output);
        Assert.False(output.Contains("RFC 5780 response", StringComparison.Ordinal), output);
        Assert.False(output.Contains("Filtering!", StringComparison.Ordinal), output);
        Assert.Empty(relay.Engine.NatDiscoveryEndPoints);
    }
}
