using System.Globalization;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Interop;

/// <summary>
/// The binary that ships: the Native AOT build (scripts/publish.sh, run by scripts/test.sh first) answers
/// STUN and relays for coturn's client, so trimming has not cut away anything the relay needs.
/// </summary>
public sealed class NativeAotBinaryTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-aot-").FullName;

    private static string Binary => AotBinary.Path;

    [Fact]
    public void The_aot_binary_prints_its_version()
    {
        (int exit, string output) = ExternalProcess.Run(TimeSpan.FromSeconds(30), Binary, "--version");
        Assert.Equal(0, exit);
        Assert.StartsWith("edgerelay ", output);
    }

    [Fact]
    public void The_aot_binary_answers_stun_and_relays_for_uclient_without_loss()
    {
        int port = Ports.FreeUdpPort();
        string config = RelayConfigFile.Write(_directory, port);
        using var relay = ExternalProcess.Start(Binary, "run", "--config", config);
        Assert.True(relay.WaitForOutput("relaying", TimeSpan.FromSeconds(20)), relay.Output);
        string portText = port.ToString(CultureInfo.InvariantCulture);

        (int stunExit, string stunOutput) = ExternalProcess.Run(Coturn.Timeout, Coturn.Tool("turnutils_stunclient"), "-p", portText, "127.0.0.1");
        Assert.Equal(0, stunExit);
        Assert.Contains("UDP reflexive addr: 127.0.0.1:", stunOutput);

        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            (int exit, string output) = Coturn.UClient("-u", "alice", "-w", "correct horse battery staple", "-p", portText,
                "-e", "127.0.0.1", "-r", peerPort.ToString(CultureInfo.InvariantCulture), "-n", "30", "-m", "2", "-z", "5", "127.0.0.1");
            Coturn.AssertRelayedEverything(exit, output, 60);
        }
        relay.Signal("TERM");
        Assert.True(relay.WaitForExit(TimeSpan.FromSeconds(20)), relay.Output);
        Assert.Equal(0, relay.ExitCode);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
