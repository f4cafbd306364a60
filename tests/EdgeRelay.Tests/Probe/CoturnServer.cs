using System.Globalization;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Probe;

/// <summary>
/// coturn's own server (Debian's /usr/bin/turnserver, installed with the coturn package by scripts/test.sh)
/// on loopback, on ports of its own, with one long-term user and every file in a temporary directory:
/// an independent TURN implementation for the probe to be checked against.
/// </summary>
internal sealed class CoturnServer : IDisposable
{
    public const string User = "probe-user";
    public const string Password = "probe-password-1";
    public const string Realm = "coturn.test";

    private readonly ExternalProcess _process;
    private readonly string _directory;

    private CoturnServer(ExternalProcess process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }
    public string PortText => Port.ToString(CultureInfo.InvariantCulture);
    public string Output => _process.Output;

    /// <param name="allowLoopbackPeers">
    /// coturn has no rule for "a peer that is another of my relayed addresses": with relayed addresses on
    /// 127.0.0.1, CreatePermission between two of its own allocations gets 403 "Forbidden IP" unless
    /// <c>--allow-loopback-peers</c> is given.
    /// </param>
    public static CoturnServer Start(bool allowLoopbackPeers)
    {
        string directory = Directory.CreateTempSubdirectory("edgerelay-coturn-").FullName;
        int port = Ports.FreeUdpPort();
        (int first, int last) = Ports.RelayRange();
        List<string> arguments =
        [
            "-n", "--listening-ip=127.0.0.1", $"--listening-port={port}", "--relay-ip=127.0.0.1",
            $"--min-port={first}", $"--max-port={last}", $"--realm={Realm}", "--lt-cred-mech", $"--user={User}:{Password}",
            "--no-tls", "--no-dtls", "--no-cli", $"--userdb={Path.Combine(directory, "turndb")}",
            $"--pidfile={Path.Combine(directory, "turnserver.pid")}", "--log-file=stdout",
        ];
        if (allowLoopbackPeers)
        {
            arguments.Add("--allow-loopback-peers");
        }
        var process = ExternalProcess.Start(Coturn.Tool("turnserver"), [.. arguments]);
        // The last line of its start-up; the probe's own retransmissions cover the moment after it.
        Assert.True(process.WaitForOutput("Total General servers", TimeSpan.FromSeconds(20)), $"turnserver did not start:\n{process.Output}");
        return new CoturnServer(process, directory, port);
    }

    public void Dispose()
    {
        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
