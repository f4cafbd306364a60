using System.Globalization;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Interop;

/// <summary>
/// coturn's turnutils_uclient through EdgeRelay over TCP, TLS, with an IPv6 relayed address and with a
/// dual allocation: every run relays with 0 lost packets.
/// </summary>
public sealed class TransportInteropTests : IDisposable
{
    private const int Messages = 40;
    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-transports-").FullName;

    private RunningRelay StartRelay() => RunningRelay.StartAllTransports(_directory, allowLoopback: true);

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <remarks>
    /// uclient's TLS reader takes one SSL_read for one message: of a TLS record that carries several ChannelData
    /// messages it counts the first and drops the rest. The relay writes one record per message over TLS
    /// (StreamConnection.WriteFramePerRecordAsync), so a loss here is a real one: no retry.
    /// </remarks>
    private static void RelayWithoutLoss(string server, int port, string peerAddress, params string[] mode)
    {
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer(peerAddress);
        using (peer)
        {
            (int exit, string output) = Run();
            Coturn.AssertRelayedEverything(exit, output, Messages * 2);
        }

        (int, string) Run() => Coturn.UClient([.. mode, "-u", RunningRelay.User, "-w", RunningRelay.Password,
            "-p", Text(port), "-e", peerAddress, "-r", Text(peerPort), "-n", Text(Messages), "-m", "2", "-z", "5", server]);
    }

    [Fact]
    public async Task Uclient_relays_without_loss_over_tcp()
    {
        await using RunningRelay relay = StartRelay();
        RelayWithoutLoss("127.0.0.1", relay.Port, "127.0.0.1", "-t");
        Assert.True(relay.Engine.Server.Counters.AllocationsCreated >= 2);
    }

    [Fact]
    public async Task Uclient_relays_without_loss_over_tls()
    {
        await using RunningRelay relay = StartRelay();
        int tlsPort = relay.Configuration.Listeners[2].Endpoint.Port;
        RelayWithoutLoss("127.0.0.1", tlsPort, "127.0.0.1", "-t", "-S");
        Assert.True(relay.Engine.Server.Counters.AllocationsCreated >= 2);
    }

    [Fact]
    public async Task Uclient_relays_without_loss_with_an_ipv6_relayed_address()
    {
        await using RunningRelay relay = StartRelay();
        RelayWithoutLoss("::1", relay.Port, "::1", "-x");
        Assert.Contains(relay.Engine.Server.Allocations, a => a.RelayedAddress.IsIPv6);
    }

    [Fact]
    public async Task Uclient_relays_without_loss_with_a_dual_allocation()
    {
        await using RunningRelay relay = StartRelay();
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer("127.0.0.1");
        using (peer)
        using (var client = ExternalProcess.Start(Coturn.Tool("turnutils_uclient"), "-Z", "-h", "-u", RunningRelay.User, "-w", RunningRelay.Password,
                   "-p", relay.PortText, "-e", "127.0.0.1", "-r", Text(peerPort), "-n", Text(Messages), "-m", "2", "-z", "5", "127.0.0.1"))
        {
            // -h keeps the allocations open after the last message, so that the test can look at them.
            Assert.True(client.WaitForOutput($"tot_recv_msgs={Messages * 2}", Coturn.Timeout), client.Output);
            Assert.DoesNotContain("lost packets 1", client.Output);
            Assert.Contains(relay.Engine.Server.Allocations, a => a.AdditionalRelay is not null && a.AdditionalRelay.RelayedAddress.IsIPv6);
        }
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
