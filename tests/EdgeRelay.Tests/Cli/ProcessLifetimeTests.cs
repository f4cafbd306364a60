using System.Globalization;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Cli;

/// <summary>The real executable, as an operator runs it: it relays, and SIGTERM stops it cleanly.</summary>
public sealed class ProcessLifetimeTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-process-").FullName;

    private static string Executable => Path.Combine(AppContext.BaseDirectory, "edgerelay.dll");

    [Fact]
    public void Sigterm_ends_every_allocation_with_its_log_line_and_exits_zero()
    {
        int port = Ports.FreeUdpPort();
        string config = RelayConfigFile.Write(_directory, port);
        using var relay = ExternalProcess.Start("dotnet", Executable, "run", "--config", config);
        Assert.True(relay.WaitForOutput("relaying", TimeSpan.FromSeconds(30)), relay.Output);

        // -h keeps the client's allocations open after its last packet, so the relay holds them at SIGTERM.
        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        using (var client = ExternalProcess.Start(Coturn.Tool("turnutils_uclient"), "-h", "-u", "alice", "-w", "correct horse battery staple",
                   "-p", port.ToString(CultureInfo.InvariantCulture), "-e", "127.0.0.1", "-r", peerPort.ToString(CultureInfo.InvariantCulture),
                   "-n", "5", "127.0.0.1"))
        {
            Assert.True(relay.WaitForOutput("Allocation created", TimeSpan.FromSeconds(30)), relay.Output);
            // Five messages on each of its two legs have gone round trip through the relay.
            Assert.True(client.WaitForOutput("tot_recv_msgs=10", TimeSpan.FromSeconds(60)), client.Output);
            relay.Signal("TERM");
            Assert.True(relay.WaitForExit(TimeSpan.FromSeconds(20)), "the relay did not stop on SIGTERM:\n" + relay.Output);
        }
        Assert.Equal(0, relay.ExitCode);
        Assert.Contains("Allocation ended (relay stopping)", relay.Output);
        Assert.Contains("user 'alice'", relay.Output);
        Assert.DoesNotContain("correct horse battery staple", relay.Output);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
