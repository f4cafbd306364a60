using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Soak;

/// <summary>
/// scripts/soak.sh, the mechanics only: a real soak runs for 30 minutes (README, Performance), which no
/// suite can afford. Three "minutes" of 8 s each with a small churn: it starts the relay and the churn,
/// prints a line per minute and one after the churn, judges, exits 0 and leaves nothing running. Too short
/// to judge levelling, which the script says.
/// </summary>
public sealed class SoakScriptTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    private static string Root => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));

    [Fact]
    public void A_short_soak_prints_a_line_per_minute_judges_and_stops_the_relay_it_started()
    {
        int port = FreePortPair();
        var info = new ProcessStartInfo(Path.Combine(Root, "scripts/soak.sh"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Root,
        };
        foreach (string argument in new[] { "3", "--port", port.ToString(CultureInfo.InvariantCulture), "--allocations", "30", "--lifetime", "4", "--rate", "10" })
        {
            info.ArgumentList.Add(argument);
        }
        info.Environment["EDGERELAY_AOT_BINARY"] = AotBinary.Path;
        info.Environment["SOAK_MINUTE_SECONDS"] = "8";

        using ExternalProcess soak = ExternalProcess.Start(info);
        Assert.True(soak.WaitForExit(Limit), $"soak.sh did not finish in {Limit}:\n{soak.Output}");
        string output = soak.Output;
        Assert.True(soak.ExitCode == 0, output);

        string[] lines = output.Split('\n', StringSplitOptions.TrimEntries);
        Assert.Contains(lines, l => l.StartsWith("minute", StringComparison.Ordinal) && l.Contains("rss_mb", StringComparison.Ordinal)
            && l.Contains("fds", StringComparison.Ordinal) && l.Contains("allocations", StringComparison.Ordinal) && l.Contains("loss_pct", StringComparison.Ordinal));
        foreach (string minute in new[] { "0", "1", "2", "3", "after" })
        {
            Assert.Contains(lines, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [var first, _, _, _, _, _, _, _] && first == minute);
        }
        // Minute 3: allocations in flight and packets relayed through them, as the relay's /metrics counts them.
        string[] third = lines.Single(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [var first, ..] && first == "3")
            .Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(int.Parse(third[3], CultureInfo.InvariantCulture) > 0, output);
        Assert.True(long.Parse(third[6], CultureInfo.InvariantCulture) > 0, output);
        Assert.Contains("levelling not judged", output);
        Assert.Contains("soak: passed", output);

        // The relay it started is gone: its listener's port is free again.
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
    }

    /// <summary>A port for the relay's listeners (UDP and TCP) whose successor is free for its status page.</summary>
    private static int FreePortPair()
    {
        while (true)
        {
            int port = Ports.FreeUdpPort();
            using var status = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                status.Bind(new IPEndPoint(IPAddress.Loopback, port + 1));
                return port;
            }
            catch (SocketException)
            {
            }
        }
    }
}
