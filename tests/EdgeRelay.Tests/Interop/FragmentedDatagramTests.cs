using System.Globalization;
using System.Text.RegularExpressions;
using EdgeRelay.Tests.Probe;
using EdgeRelay.Tests.Support;
using Xunit.Abstractions;

namespace EdgeRelay.Tests.Interop;

/// <summary>
/// Datagrams that IP fragments, through the shipped binary. In a network namespace of the test's own whose
/// loopback has an MTU of 1280 (IPv6's minimum, and what many tunnels give), edgerelay-load's clients and echo
/// peer exchange datagrams of 3000 bytes through the relay: each travels as three fragments, which the kernel
/// reassembles (its counters say so) before the relay sees one whole datagram, both ways. Fragmented datagrams
/// over the relay's 4096 bytes are reassembled too, then dropped and counted, and the relay goes on.
/// </summary>
public sealed partial class FragmentedDatagramTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-fragments-").FullName;

    /// <summary>edgerelay-load, built beside this assembly (the project reference builds it).</summary>
    private static string LoadPath
    {
        get
        {
            string path = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory.Replace("EdgeRelay.Tests", "EdgeRelay.Load", StringComparison.Ordinal), "edgerelay-load"));
            Assert.True(File.Exists(path), $"{path} does not exist");
            return path;
        }
    }

    [Fact]
    public void Fragmented_datagrams_are_relayed_whole_and_fragmented_oversized_ones_are_dropped_and_counted()
    {
        // The server namespace of a NatLab is a network stack of its own; only its loopback is used here.
        using NatLab lab = NatLab.Create(NatLabKind.Masquerade);
        string space = lab.Server;
        NatLab.Exec(space, "ip", "link", "set", "lo", "mtu", "1280");
        string config = RelayConfigFile.Write(_directory, 3478, """
            "status": { "endpoint": "127.0.0.1:8080" }
            """);
        using ExternalProcess relay = NatLab.Start(space, AotBinary.Path, "run", "--config", config);
        Assert.True(relay.WaitForOutput("Status page on", Limit), relay.Output);
        (long reassembledBefore, _) = IpCounters(space);
        Dictionary<string, string> whole = Load(space, 3000);
        (long reassembled, long fragmentsCreated) = IpCounters(space);
        output.WriteLine($"3000 bytes: {string.Join(' ', whole.Select(p => $"{p.Key}={p.Value}"))}; reassembled {reassembled - reassembledBefore}, fragments created {fragmentsCreated}");
        long sent = long.Parse(whole["sent"], CultureInfo.InvariantCulture);
        Assert.True(sent > 0);
        // Relayed: the echoes came back through the relay both ways; a noisy machine may lose one of hundreds in
        // the kernel, which is not what this test is about (the reassembly counters below are).
        Assert.True(long.Parse(whole["received"], CultureInfo.InvariantCulture) >= sent * 99 / 100, $"{whole["received"]} of {sent} came back");
        // Each datagram went out as fragments and came in reassembled: client to relay, relay to peer, and back.
        Assert.True(reassembled - reassembledBefore >= 3 * sent,
            $"only {reassembled - reassembledBefore} datagrams were reassembled");

        Dictionary<string, string> oversized = Load(space, 6000);
        output.WriteLine($"6000 bytes: {string.Join(' ', oversized.Select(p => $"{p.Key}={p.Value}"))}");
        Assert.Equal("0", oversized["received"]);
        long dropped = Metric(space, "edgerelay_dropped_packets_total{reason=\"oversized\"}");
        Assert.True(dropped >= long.Parse(oversized["sent"], CultureInfo.InvariantCulture), $"{dropped} oversized datagrams counted");

        // And the relay goes on relaying for whoever sends what fits.
        Dictionary<string, string> after = Load(space, 1000);
        Assert.True(long.Parse(after["received"], CultureInfo.InvariantCulture) >= long.Parse(after["sent"], CultureInfo.InvariantCulture) * 99 / 100,
            $"{after["received"]} of {after["sent"]} came back");
    }

    /// <summary>One edgerelay-load run inside <paramref name="space"/>: 4 allocations, 50 packets a second each, for 2 s.</summary>
    private static Dictionary<string, string> Load(string space, int size)
    {
        (int exit, string text) = NatLab.RunIn(space, Limit, LoadPath, "--server", "127.0.0.1:3478", "--user", RunningRelay.User,
            "--password", RunningRelay.Password, "--allocations", "4", "--size", size.ToString(CultureInfo.InvariantCulture),
            "--rate", "50", "--duration", "2");
        Assert.True(exit == 0, text);
        return KeyValue().Matches(text).ToDictionary(m => m.Groups["key"].Value, m => m.Groups["value"].Value);
    }

    /// <summary>The namespace's IPv4 ReasmOKs and FragCreates (/proc/net/snmp is per network namespace).</summary>
    private static (long Reassembled, long FragmentsCreated) IpCounters(string space)
    {
        string[] lines = NatLab.Exec(space, "cat", "/proc/net/snmp").Split('\n').Where(l => l.StartsWith("Ip: ", StringComparison.Ordinal)).ToArray();
        string[] names = lines[0].Split(' ');
        string[] values = lines[1].Split(' ');
        long Value(string name) => long.Parse(values[Array.IndexOf(names, name)], CultureInfo.InvariantCulture);
        return (Value("ReasmOKs"), Value("FragCreates"));
    }

    private static long Metric(string space, string series) =>
        RelayProcess.MetricIn(NatLab.Exec(space, "curl", "-sf", "http://127.0.0.1:8080/metrics"), series);

    [GeneratedRegex(@"(?<key>[a-z_0-9]+)=(?<value>\S+)")]
    private static partial Regex KeyValue();

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
