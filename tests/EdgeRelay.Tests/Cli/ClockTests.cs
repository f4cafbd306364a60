using System.Globalization;
using System.Text.Json;
using EdgeRelay.Appliance.Clock;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Cli;

/// <summary>
/// The shipped binary's clock check (README, Time and NTP): the kernel's synchronisation state on /api/status
/// and /metrics, D11 and its LED pattern exactly when the kernel says "not synchronised", and time.ntpServers
/// handed to systemd-timesyncd as stateDirectory/timesyncd.conf, mode 0644 under the unit's UMask=0077.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ClockTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-clock-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task The_binary_reports_the_kernel_clock_and_hands_the_NTP_servers_to_timesyncd()
    {
        int port = Ports.FreeUdpPort();
        int statusPort = Ports.FreeUdpPort();
        (int first, int last) = Ports.RelayRange();
        string state = Path.Combine(_directory, "state");
        string config = Path.Combine(_directory, "edgerelay.json");
        File.WriteAllText(config, $$"""
            {
              "listeners": [{ "transport": "udp", "endpoint": "127.0.0.1:{{port}}" }],
              "relay": { "address": "127.0.0.1", "portRange": "{{first}}-{{last}}" },
              "auth": { "users": { "{{RunningRelay.User}}": "{{RunningRelay.Password}}" } },
              "status": { "endpoint": "127.0.0.1:{{statusPort}}" },
              "stateDirectory": "{{state}}",
              "time": { "ntpServers": ["ntp.office.example", "192.168.1.1"] }
            }
            """);
        // The unit's UMask=0077: the file must still be readable by the root-side path unit's copy (0644).
        using ExternalProcess relay = ExternalProcess.Start("sh", "-c", "umask 077 && exec \"$0\" run --config \"$1\"", AotBinary.Path, config);
        Assert.True(relay.WaitForOutput("Status page on", TimeSpan.FromSeconds(60)), relay.Output);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{statusPort.ToString(CultureInfo.InvariantCulture)}/") };

        JsonElement status = JsonDocument.Parse(await http.GetStringAsync("api/status")).RootElement;
        string metrics = await http.GetStringAsync("metrics");

        // Outside systemd's ProtectClock=yes, adjtimex(2) answers; the test reads the same kernel.
        KernelClockReading kernel = new KernelClockSource().Read();
        JsonElement clock = status.GetProperty("clock");
        Assert.Equal(kernel.State.ToString().ToLowerInvariant(), clock.GetProperty("state").GetString());
        Assert.Equal("adjtimex", clock.GetProperty("source").GetString());
        Assert.True(clock.GetProperty("maxErrorSeconds").GetDouble() >= 0);
        bool unsynchronised = kernel.State == ClockSynchronisation.Unsynchronised;
        Assert.Equal(unsynchronised, status.GetProperty("reasons").EnumerateArray().Any(r => r.GetProperty("code").GetString() == "D11-clock-unsynchronised"));
        Assert.Equal(unsynchronised ? "DegradedClock" : "Healthy", status.GetProperty("led").GetProperty("mode").GetString());
        Assert.Contains($"edgerelay_clock_synchronised {(unsynchronised ? 0 : 1)}\n", metrics, StringComparison.Ordinal);

        string file = Path.Combine(state, "timesyncd.conf");
        Assert.Equal("[Time]\nNTP=ntp.office.example 192.168.1.1\n", File.ReadAllText(file));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(file));
        Assert.Contains("NTP servers for systemd-timesyncd: ntp.office.example 192.168.1.1", relay.Output, StringComparison.Ordinal);
    }
}
