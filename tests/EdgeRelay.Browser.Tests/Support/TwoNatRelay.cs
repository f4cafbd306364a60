using System.Globalization;
using EdgeRelay.Tests.Probe;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Browser.Tests.Support;

/// <summary>
/// EdgeRelay, the shipped binary, in the server namespace of a two-NAT lab (<see cref="NatLab.CreateWithPeer"/>):
/// UDP and TCP listeners on 10.99.0.1:3478, relayed addresses on 10.99.0.1, one long-term user, the default peer
/// policy (no <c>peers</c> section: every non-global peer is refused except the relay's own relayed addresses,
/// which is what two clients that only use relayed candidates need), and its status page on the namespace's
/// own loopback, where only <see cref="ReadMetrics"/> reaches it. Both sides use the same TURN URL: the peer's
/// NAT routes to 10.99.0.1 through the server's other link, as any host on the internet reaches a public relay.
/// </summary>
public sealed class TwoNatRelay : IDisposable
{
    public const int Port = 3478;

    /// <summary>The relay's own ports: the namespace has a port space of its own, so nothing else can hold them.</summary>
    public const int RelayPortMin = 49152;

    public const int RelayPortMax = 49407;

    private const string StatusEndpoint = "127.0.0.1:8478";
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CurlLimit = TimeSpan.FromSeconds(30);

    private readonly string _directory;

    private TwoNatRelay(string directory, NatLab lab)
    {
        _directory = directory;
        Lab = lab;
    }

    public NatLab Lab { get; }

    public ExternalProcess? Relay { get; private set; }

    /// <summary>A directory of this setup (configuration, state, launchers), deleted with it.</summary>
    public string TempDirectory => _directory;

    /// <summary>What the relay printed so far: start-up, one line per allocation created and ended.</summary>
    public string Log => Relay?.Output ?? "(the relay did not start)";

    /// <summary>The URL a web developer puts into iceServers for this relay (RFC 7065).</summary>
    public static string TurnUrl(string transport) => $"turn:{NatLab.ServerAddress}:{Port}?transport={transport}";

    public static TwoNatRelay Start(NatLabKind clientNat, NatLabKind peerNat)
    {
        string directory = Directory.CreateTempSubdirectory("edgerelay-twonat-").FullName;
        NatLab lab;
        try
        {
            lab = NatLab.CreateWithPeer(clientNat, peerNat);
        }
        catch
        {
            Directory.Delete(directory, recursive: true);
            throw;
        }
        var setup = new TwoNatRelay(directory, lab);
        try
        {
            string config = Path.Combine(directory, "edgerelay.json");
            File.WriteAllText(config, $$"""
                {
                  "realm": "{{RunningRelay.Realm}}",
                  "listeners": [
                    { "transport": "udp", "endpoint": "{{NatLab.ServerAddress}}:{{Port}}" },
                    { "transport": "tcp", "endpoint": "{{NatLab.ServerAddress}}:{{Port}}" }
                  ],
                  "relay": { "address": "{{NatLab.ServerAddress}}", "portRange": "{{RelayPortMin}}-{{RelayPortMax}}" },
                  "auth": { "users": { "{{RunningRelay.User}}": "{{RunningRelay.Password}}" } },
                  "status": { "endpoint": "{{StatusEndpoint}}" },
                  "stateDirectory": "{{Path.Combine(directory, "state")}}"
                }
                """);
            setup.Relay = NatLab.Start(lab.Server, AotBinary.Path, "run", "--config", config);
            // The last line of start-up: listeners and status page are bound by then.
            Assert.True(setup.Relay.WaitForOutput($"relaying, advertising relayed addresses on {NatLab.ServerAddress}", StartLimit),
                $"the relay did not start in the server namespace:\n{setup.Log}");
            Assert.True(setup.Relay.WaitForOutput($"Status page on http://{StatusEndpoint}/", StartLimit),
                $"the relay's status page did not start:\n{setup.Log}");
            return setup;
        }
        catch
        {
            setup.Dispose();
            throw;
        }
    }

    /// <summary>
    /// GET /metrics from inside the server namespace (curl, installed by scripts/test.sh): every sample by its
    /// name and labels, e.g. <c>edgerelay_relayed_packets_total{direction="to_peer"}</c>.
    /// </summary>
    public IReadOnlyDictionary<string, long> ReadMetrics()
    {
        (int exit, string text) = NatLab.RunIn(Lab.Server, CurlLimit,
            "curl", "--silent", "--show-error", "--fail", "--max-time", "10", $"http://{StatusEndpoint}/metrics");
        Assert.True(exit == 0, $"curl http://{StatusEndpoint}/metrics in the server namespace exited {exit}:\n{text}\n--- relay:\n{Log}");
        var samples = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int space = line.LastIndexOf(' ');
            if (line.StartsWith('#') || space < 0)
            {
                continue;
            }
            if (long.TryParse(line.AsSpan(space + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
            {
                samples[line[..space]] = value;
            }
        }
        return samples;
    }

    public void Dispose()
    {
        // The relay first: a namespace with a process in it outlives its name.
        Relay?.Dispose();
        Lab.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
