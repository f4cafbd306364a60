using System.Diagnostics;
using System.Globalization;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Systemd;

/// <summary>
/// The shipped binary talks to systemd as a Type=notify service with a watchdog would see it
/// (sd_notify(3), systemd.service(5)): this test plays the service manager with its own notify socket.
/// </summary>
public sealed class SystemdNotifyTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-systemd-").FullName;

    private static ProcessStartInfo RelayProcess(string config) => new(AotBinary.Path)
    {
        ArgumentList = { "run", "--config", config },
        RedirectStandardOutput = true,
        RedirectStandardError = true,
        RedirectStandardInput = true,
        UseShellExecute = false,
    };

    [Fact]
    public void The_aot_binary_notifies_ready_watchdog_status_and_stopping()
    {
        using var notify = new NotifySocket(_directory);
        string config = RelayConfigFile.Write(_directory, Ports.FreeUdpPort());
        ProcessStartInfo info = RelayProcess(config);
        info.Environment["NOTIFY_SOCKET"] = notify.Path;
        info.Environment["WATCHDOG_USEC"] = "2000000";
        info.Environment.Remove("WATCHDOG_PID");
        using var relay = ExternalProcess.Start(info);

        Assert.True(notify.WaitFor(a => a.Contains("READY=1"), Patience), $"no READY=1: {notify}\n{relay.Output}");
        Assert.True(notify.WaitFor(a => notify.Count("WATCHDOG=1") >= 3, Patience), $"fewer than 3 WATCHDOG=1: {notify}\n{relay.Output}");
        Assert.Contains(notify.Assignments, a => a.StartsWith("STATUS=relaying: ", StringComparison.Ordinal));

        relay.Signal("TERM");
        Assert.True(notify.WaitFor(a => a.Contains("STOPPING=1"), Patience), $"no STOPPING=1: {notify}\n{relay.Output}");
        Assert.True(relay.WaitForExit(Patience), relay.Output);
        Assert.Equal(0, relay.ExitCode);
    }

    [Fact]
    public void The_aot_binary_notifies_an_abstract_socket_too()
    {
        // sd_notify(3): a $NOTIFY_SOCKET that starts with '@' names a socket in the abstract namespace.
        string name = "edgerelay-test-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N");
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint("\0" + name));
        socket.ReceiveTimeout = (int)Patience.TotalMilliseconds;
        string config = RelayConfigFile.Write(_directory, Ports.FreeUdpPort());
        ProcessStartInfo info = RelayProcess(config);
        info.Environment["NOTIFY_SOCKET"] = "@" + name;
        info.Environment.Remove("WATCHDOG_USEC");
        using var relay = ExternalProcess.Start(info);

        var buffer = new byte[4096];
        int length = socket.Receive(buffer);
        Assert.Equal("READY=1", System.Text.Encoding.UTF8.GetString(buffer, 0, length));
        relay.Signal("TERM");
        Assert.True(relay.WaitForExit(Patience), relay.Output);
        Assert.Equal(0, relay.ExitCode);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
