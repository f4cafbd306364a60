using System.Text.RegularExpressions;

namespace EdgeRelay.Tests.Support;

/// <summary>
/// coturn's client tools (Debian package coturn, installed by scripts/test.sh). The tests need them:
/// a missing tool fails the test rather than skipping it.
/// </summary>
public static partial class Coturn
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    public static string Tool(string name)
    {
        string path = Path.Combine("/usr/bin", name);
        Assert.True(File.Exists(path), $"{path} is missing: install Debian's coturn package (scripts/test.sh does)");
        return path;
    }

    /// <summary>turnutils_peer, the echo peer of turnutils_uclient, on a loopback port of its own.</summary>
    public static (ExternalProcess Process, int Port) StartPeer(string address = "127.0.0.1")
    {
        int port = Ports.FreeUdpPort();
        var peer = ExternalProcess.Start(Tool("turnutils_peer"), "-L", address, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        // It prints nothing when ready; a short pause lets it bind before the client sends.
        Thread.Sleep(300);
        return (peer, port);
    }

    public static (int ExitCode, string Output) UClient(params string[] arguments) =>
        ExternalProcess.Run(Timeout, Tool("turnutils_uclient"), arguments);

    /// <summary>The figures of uclient's closing lines: lost packets, and messages sent and echoed back.</summary>
    public static (long Lost, long Sent, long Received) ParseSummary(string output)
    {
        Match lost = LostRegex().Match(output);
        MatchCollection totals = TotalsRegex().Matches(output);
        Assert.True(lost.Success && totals.Count > 0, $"no summary in turnutils_uclient output:\n{output}");
        Match last = totals[^1];
        return (Parse(lost.Groups[1].Value), Parse(last.Groups[1].Value), Parse(last.Groups[2].Value));
    }

    /// <summary>
    /// uclient exited 0, lost nothing, and every message it sent (at least <paramref name="minimumSent"/>)
    /// came back through the relay.
    /// </summary>
    public static void AssertRelayedEverything(int exitCode, string output, long minimumSent)
    {
        Assert.True(exitCode == 0, $"turnutils_uclient exited {exitCode}:\n{output}");
        (long lost, long sent, long received) = ParseSummary(output);
        Assert.True(lost == 0, $"{lost} packets lost:\n{output}");
        Assert.True(sent >= minimumSent, $"sent {sent}, expected at least {minimumSent}:\n{output}");
        Assert.Equal(sent, received);
    }

    private static long Parse(string text) => long.Parse(text, System.Globalization.CultureInfo.InvariantCulture);

    [GeneratedRegex(@"Total lost packets (\d+)")]
    private static partial Regex LostRegex();

    [GeneratedRegex(@"start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)")]
    private static partial Regex TotalsRegex();
}
