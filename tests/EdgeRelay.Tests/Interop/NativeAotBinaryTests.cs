using System.Globalization;
using EdgeRelay.Tests.Support;
using Xunit.Abstractions;

namespace EdgeRelay.Tests.Interop;

/// <summary>
/// The binary that ships: the Native AOT build (scripts/publish.sh, run by scripts/test.sh first) answers
/// STUN and relays for coturn's client, so trimming has not cut away anything the relay needs.
/// </summary>
public sealed class NativeAotBinaryTests(ITestOutputHelper output) : IDisposable
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
    public void The_aot_binary_answers_stun_and_relays_for_uclient_without_loss() => AnswersStunAndRelays(Binary, TimeSpan.FromSeconds(20));

    /// <summary>
    /// The linux-arm64 binary, the one a Raspberry Pi runs, on this x86_64 machine under qemu-user
    /// (scripts/run-arm64.sh): the same STUN binding and relay for coturn's x86_64 clients.
    /// </summary>
    [Fact]
    public void The_arm64_aot_binary_under_emulation_answers_stun_and_relays_for_uclient_without_loss()
    {
        string arm64 = Path.Combine(AotBinary.RepositoryRoot, "artifacts", "linux-arm64", "edgerelay");
        byte[] header = File.ReadAllBytes(arm64)[..20];
        // ELF, 64-bit, e_machine 183 (EM_AARCH64): an arm64 binary, not this machine's.
        Assert.Equal([0x7f, (byte)'E', (byte)'L', (byte)'F', 2], header[..5]);
        Assert.Equal(183, header[18] | (header[19] << 8));
        output.WriteLine($"binary sizes: linux-x64 {new FileInfo(Binary).Length:N0} bytes, linux-arm64 {new FileInfo(arm64).Length:N0} bytes");
        AnswersStunAndRelays(AotBinary.Arm64Launcher, TimeSpan.FromSeconds(90));
    }

    /// <summary>
    /// Runs <paramref name="launcher"/> with a configuration; a STUN Binding from turnutils_stunclient and a relay
    /// of 60 packets from turnutils_uclient through it to turnutils_peer must all come back; SIGTERM ends it with 0.
    /// </summary>
    private void AnswersStunAndRelays(string launcher, TimeSpan startLimit)
    {
        int port = Ports.FreeUdpPort();
        string config = RelayConfigFile.Write(_directory, port);
        using var relay = ExternalProcess.Start(launcher, "run", "--config", config);
        Assert.True(relay.WaitForOutput("relaying", startLimit), relay.Output);
        string portText = port.ToString(CultureInfo.InvariantCulture);

        (int stunExit, string stunOutput) = ExternalProcess.Run(Coturn.Timeout, Coturn.Tool("turnutils_stunclient"), "-p", portText, "127.0.0.1");
        Assert.Equal(0, stunExit);
        Assert.Contains("UDP reflexive addr: 127.0.0.1:", stunOutput);

        (ExternalProcess peer, int peerPort) = Coturn.StartPeer();
        using (peer)
        {
            (int exit, string text) = Coturn.UClient("-u", "alice", "-w", "correct horse battery staple", "-p", portText,
                "-e", "127.0.0.1", "-r", peerPort.ToString(CultureInfo.InvariantCulture), "-n", "30", "-m", "2", "-z", "5", "127.0.0.1");
            Coturn.AssertRelayedEverything(exit, text, 60);
        }
        relay.Signal("TERM");
        Assert.True(relay.WaitForExit(TimeSpan.FromSeconds(30)), relay.Output);
        Assert.Equal(0, relay.ExitCode);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
