using System.Diagnostics;
using System.Text.Json;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Probe;

/// <summary>
/// The box's self-check behind Linux's own NAT (<see cref="NatLab"/>), with the shipped binary on both sides:
/// the box runs in the client namespace (192.168.99.2, behind MASQUERADE [--random-fully]), and another
/// EdgeRelay, the RFC 5780 server of the fleet, on 10.99.0.1:3478 and 10.99.0.2:3479 in the server namespace.
/// What the box concludes is read where an admin reads it: /api/status (curl inside the box's namespace)
/// and the LEDs (sysfs LED class devices in a temporary directory).
/// </summary>
public sealed class SelfCheckBehindLinuxNatTests
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(30);

    /// <summary>A check behind a filtering NAT waits out a few silent tests (RFC 5780 §4.4, §4.5): seconds, bounded generously.</summary>
    private static readonly TimeSpan CheckLimit = TimeSpan.FromSeconds(90);

    private const string StatusUrl = "http://127.0.0.1:8080/api/status";

    private sealed class Setup : IDisposable
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-selfcheck-").FullName;
        private readonly List<ExternalProcess> _processes = [];

        public Setup(NatLabKind kind, string externalAddress)
        {
            Lab = NatLab.Create(kind);
            try
            {
                Leds = Path.Combine(_directory, "leds");
                foreach (string colour in new[] { "green", "amber", "red" })
                {
                    // Laid out like /sys/class/leds: the kernel's device:colour:function names.
                    string led = Directory.CreateDirectory(Path.Combine(Leds, $"box:{colour}:status")).FullName;
                    File.WriteAllText(Path.Combine(led, "brightness"), "0");
                    File.WriteAllText(Path.Combine(led, "max_brightness"), "1");
                    File.WriteAllText(Path.Combine(led, "trigger"), "[none] timer");
                }
                string serverConfig = RelayConfigFile.Write(Directory.CreateDirectory(Path.Combine(_directory, "server")).FullName, 3478,
                    address: NatLab.ServerAddress, more: $$"""
                    "stateDirectory": "{{Path.Combine(_directory, "server-state")}}",
                      "natDiscovery": { "enabled": true, "alternateAddress": "{{NatLab.AlternateAddress}}", "alternatePort": 3479 }
                    """);
                Start(Lab.Server, serverConfig, "NAT behaviour discovery (RFC 5780) on udp");

                string boxConfig = Path.Combine(_directory, "box.json");
                File.WriteAllText(boxConfig, $$"""
                    {
                      "listeners": [{ "transport": "udp", "endpoint": "{{NatLab.ClientAddress}}:3478" }],
                      "relay": { "address": "{{NatLab.ClientAddress}}", "externalAddress": "{{externalAddress}}", "portRange": "50000-50999" },
                      "auth": { "users": { "{{RunningRelay.User}}": "{{RunningRelay.Password}}" } },
                      "status": { "endpoint": "127.0.0.1:8080" },
                      "leds": { "driver": "sysfs", "sysfsRoot": "{{Leds}}" },
                      "selfCheck": { "stunServers": ["{{NatLab.ServerAddress}}:3478"], "timeoutSeconds": 1 },
                      "time": { "requireSynchronisation": false },
                      "stateDirectory": "{{Path.Combine(_directory, "box-state")}}"
                    }
                    """);
                Box = Start(Lab.Client, boxConfig, "Status page on");
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public NatLab Lab { get; }
        public ExternalProcess Box { get; } = null!;
        public string Leds { get; } = null!;

        private ExternalProcess Start(string space, string config, string ready)
        {
            ExternalProcess process = NatLab.Start(space, AotBinary.Path, "run", "--config", config);
            _processes.Add(process);
            Assert.True(process.WaitForOutput(ready, StartLimit), $"edgerelay in {space} did not start:\n{process.Output}");
            return process;
        }

        /// <summary>/api/status once the first self-check has ended, as curl gets it inside the box's namespace.</summary>
        public JsonElement StatusAfterTheFirstCheck()
        {
            var waited = Stopwatch.StartNew();
            string last = "";
            while (waited.Elapsed < CheckLimit)
            {
                (int exit, string output) = NatLab.RunIn(Lab.Client, TimeSpan.FromSeconds(30), "curl", "-sS", "--fail", StatusUrl);
                last = output;
                if (exit == 0)
                {
                    JsonElement status = JsonDocument.Parse(output).RootElement.Clone();
                    if (status.GetProperty("selfCheck").GetProperty("checkedAt").ValueKind != JsonValueKind.Null)
                    {
                        return status;
                    }
                }
                Thread.Sleep(250);
            }
            throw new Xunit.Sdk.XunitException($"no self-check result on {StatusUrl} within {CheckLimit}: {last}\nbox:\n{Box.Output}");
        }

        public string Brightness(string colour) => File.ReadAllText(Path.Combine(Leds, $"box:{colour}:status", "brightness")).Trim();

        public void Dispose()
        {
            // The processes first: a namespace with a process in it outlives its name.
            foreach (ExternalProcess process in _processes)
            {
                process.Dispose();
            }
            Lab.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static string[] Reasons(JsonElement status) =>
        [.. status.GetProperty("reasons").EnumerateArray().Select(r => r.GetProperty("code").GetString()!)];

    private static string[] Advice(JsonElement status) =>
        [.. status.GetProperty("selfCheck").GetProperty("advice").EnumerateArray().Select(a => a.GetString()!)];

    [Fact]
    public void A_wrong_external_address_behind_MASQUERADE_is_reported_with_the_right_one_and_the_LEDs_show_degraded()
    {
        using var setup = new Setup(NatLabKind.Masquerade, "198.51.100.9");

        JsonElement status = setup.StatusAfterTheFirstCheck();

        string all = status.ToString();
        Assert.Equal(["D7-external-address-mismatch"], Reasons(status));
        Assert.True(status.GetProperty("health").GetString() == "Degraded", all);
        Assert.Equal("Degraded", status.GetProperty("led").GetProperty("mode").GetString());
        JsonElement selfCheck = status.GetProperty("selfCheck");
        Assert.Equal(NatLab.NatOutsideAddress, selfCheck.GetProperty("publicAddress").GetString());
        Assert.Equal("198.51.100.9", selfCheck.GetProperty("advertisedAddress").GetString());
        Assert.Equal("endpoint-independent mapping", selfCheck.GetProperty("mapping").GetString());
        Assert.Contains(Advice(status), a => a.Contains($"set relay.externalAddress to \"{NatLab.NatOutsideAddress}\"", StringComparison.Ordinal));
        // MASQUERADE filters (address and port-dependent): the page says what forwarding would add.
        Assert.Contains(Advice(status), a => a.Contains("forward UDP ports 50000-50999", StringComparison.Ordinal));
        // Amber steady on the box: the LED driver wrote it (the animator shows a steady state at once).
        Assert.True(Eventually.True(() => setup.Brightness("amber") == "1" && setup.Brightness("green") == "0" && setup.Brightness("red") == "0", CheckLimit),
            $"LEDs green {setup.Brightness("green")}, amber {setup.Brightness("amber")}, red {setup.Brightness("red")}\n{setup.Box.Output}");
        Assert.Contains("D7-external-address-mismatch", setup.Box.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_behind_MASQUERADE_advertises_the_NATs_public_address()
    {
        using var setup = new Setup(NatLabKind.Masquerade, "auto");

        JsonElement status = setup.StatusAfterTheFirstCheck();

        string all = status.ToString();
        Assert.True(Reasons(status).Length == 0, all);
        JsonElement selfCheck = status.GetProperty("selfCheck");
        Assert.Equal(NatLab.NatOutsideAddress, selfCheck.GetProperty("publicAddress").GetString());
        Assert.Equal(NatLab.NatOutsideAddress, selfCheck.GetProperty("detectedExternalAddress").GetString());
        // The engine's own options (new allocations get XOR-RELAYED-ADDRESS on the public address), the page's
        // iceServers and the log follow, once the address is applied a moment after the check.
        Assert.True(Eventually.True(() =>
        {
            JsonElement now = setup.StatusAfterTheFirstCheck();
            return now.GetProperty("selfCheck").GetProperty("advertisedAddress").GetString() == NatLab.NatOutsideAddress
                   && now.GetProperty("iceServers")[0].GetProperty("urls").EnumerateArray().Any(u => u.GetString() == $"turn:{NatLab.NatOutsideAddress}:3478?transport=udp");
        }, CheckLimit), all);
        Assert.True(Eventually.True(() => setup.Box.Output.Contains($"new allocations are advertised on {NatLab.NatOutsideAddress}", StringComparison.Ordinal), CheckLimit),
            setup.Box.Output);
    }

    [Fact]
    public void Auto_behind_MASQUERADE_random_fully_refuses_to_guess_and_says_the_NAT_is_unsuitable()
    {
        using var setup = new Setup(NatLabKind.MasqueradeRandomFully, "auto");

        JsonElement status = setup.StatusAfterTheFirstCheck();

        string all = status.ToString();
        Assert.True(Reasons(status).SequenceEqual(["D8-nat-unsuitable"]), all);
        JsonElement selfCheck = status.GetProperty("selfCheck");
        Assert.Equal("address and port-dependent mapping", selfCheck.GetProperty("mapping").GetString());
        // Nothing was vouched for, so nothing is applied: still the box's own address.
        Assert.Equal(JsonValueKind.Null, selfCheck.GetProperty("detectedExternalAddress").ValueKind);
        Assert.Equal(NatLab.ClientAddress, selfCheck.GetProperty("advertisedAddress").GetString());
        Assert.Contains(Advice(status), a => a.Contains($"\"auto\" does not use {NatLab.NatOutsideAddress}", StringComparison.Ordinal));
        Assert.DoesNotContain("new allocations are advertised on", setup.Box.Output, StringComparison.Ordinal);
    }
}
