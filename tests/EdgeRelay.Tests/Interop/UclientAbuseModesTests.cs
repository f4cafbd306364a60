using System.Globalization;
using System.Net;
using EdgeRelay.Configuration;
using EdgeRelay.Tests.Support;
using Xunit.Abstractions;

namespace EdgeRelay.Tests.Interop;

/// <summary>
/// coturn's turnutils_uclient in its hostile modes against EdgeRelay: negative tests (-N), negative protocol
/// tests (-R) and the DoS mode that connects and leaves at once (-O, over UDP and TCP). What they report is
/// theirs to say; what matters is that afterwards the relay relays for a well-behaved client with no loss,
/// and that the hostile runs left no allocation or connection behind that a client did not keep.
/// </summary>
public sealed class UclientAbuseModesTests(ITestOutputHelper output)
{
    /// <summary>-R waits for answers that never come to some of its malformed requests: it is stopped after this.</summary>
    private static readonly TimeSpan HostileLimit = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task After_the_negative_protocol_and_DoS_modes_the_relay_relays_for_a_well_behaved_client_with_no_loss()
    {
        int port = Ports.FreeUdpPort();
        await using var relay = RunningRelay.StartWith(
        [
            new ListenerConfiguration(ListenerTransport.Udp, new IPEndPoint(IPAddress.Loopback, port), null, null),
            new ListenerConfiguration(ListenerTransport.Tcp, new IPEndPoint(IPAddress.Loopback, port), null, null),
        ], allowLoopback: true);
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            string[] common = ["-u", RunningRelay.User, "-w", RunningRelay.Password, "-p", relay.PortText, "-e", "127.0.0.1",
                "-r", peerPort.ToString(CultureInfo.InvariantCulture), "-n", "20", "-m", "4", "-z", "5"];
            foreach (string[] mode in new[] { new[] { "-N" }, ["-R"], ["-O"], ["-O", "-t"] })
            {
                using ExternalProcess hostile = ExternalProcess.Start(Coturn.Tool("turnutils_uclient"), [.. mode, .. common, "127.0.0.1"]);
                bool ended = hostile.WaitForExit(HostileLimit);
                if (!ended)
                {
                    hostile.Kill();
                }
                string text = hostile.Output;
                output.WriteLine($"uclient {string.Join(' ', mode)}: {(ended ? $"exit {hostile.ExitCode}" : "stopped")}, last lines: {string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(2))}");
            }

            (int exit, string outputText) = Coturn.UClient([.. common[..^6], "-n", "50", "-m", "2", "-z", "5", "127.0.0.1"]);
            Coturn.AssertRelayedEverything(exit, outputText, 100);
        }
        var counters = relay.Engine.Server.Counters;
        output.WriteLine($"allocations created {counters.AllocationsCreated}, ended {counters.AllocationsEnded}, alive {relay.Engine.Server.AllocationCount}, " +
                         $"malformed {counters.MalformedPackets}, stream connections {relay.Engine.StreamConnectionCount}");
        // The DoS mode's TCP clients closed their connections: their allocations ended with them (RFC 8656 §6.2).
        Assert.True(Eventually.True(() => relay.Engine.StreamConnectionCount == 0 && relay.Engine.Server.AllocationCountOf(EdgeRelay.Turn.TransportProtocol.Tcp) == 0,
                TimeSpan.FromSeconds(30)),
            $"{relay.Engine.StreamConnectionCount} connections and {relay.Engine.Server.AllocationCountOf(EdgeRelay.Turn.TransportProtocol.Tcp)} TCP allocations left");
    }
}
