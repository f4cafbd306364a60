using System.Globalization;
using System.Text.RegularExpressions;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Systemd;

/// <summary>
/// image/systemd/edgerelay.service as systemd reads it: <c>systemd-analyze verify</c> accepts it, and
/// <c>systemd-analyze security</c> rates it at most 2.0 (scripts/test.sh installs systemd's tools).
/// </summary>
public sealed partial class UnitFileTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-unit-").FullName;

    private static string UnitFile => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../image/systemd/edgerelay.service"));

    /// <summary>
    /// A copy of the unit whose ExecStart= names the binary we built: verify checks that the program
    /// exists, and /usr/bin/edgerelay is only there once the package is installed.
    /// </summary>
    private string CopyWithBuiltBinary()
    {
        string text = File.ReadAllText(UnitFile);
        Assert.Contains("ExecStart=/usr/bin/edgerelay run --config /etc/edgerelay/edgerelay.json", text);
        string copy = Path.Combine(_directory, "edgerelay.service");
        File.WriteAllText(copy, text.Replace("ExecStart=/usr/bin/edgerelay ", $"ExecStart={AotBinary.Path} ", StringComparison.Ordinal));
        return copy;
    }

    [Fact]
    public void Systemd_analyze_verify_accepts_the_unit()
    {
        (int exit, string output) = ExternalProcess.Run(Timeout, "systemd-analyze", "verify", CopyWithBuiltBinary());
        Assert.True(exit == 0, output);
        Assert.DoesNotContain("edgerelay.service:", output); // verify reports a unit's problems as FILE:LINE: ...
    }

    [Fact]
    public void Systemd_analyze_security_rates_the_exposure_at_most_2()
    {
        (int exit, string output) = ExternalProcess.Run(Timeout, "systemd-analyze", "security", "--offline=yes", "--no-pager", CopyWithBuiltBinary());
        Assert.True(exit == 0, output);
        Match match = OverallExposure().Match(output);
        Assert.True(match.Success, output);
        double exposure = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(exposure <= 2.0, $"exposure {exposure}:\n{output}");
    }

    [Fact]
    public void The_unit_runs_the_relay_as_a_notify_service_with_a_watchdog_and_only_the_bind_capability()
    {
        string[] lines = File.ReadAllLines(UnitFile);
        foreach (string expected in new[]
        {
            "Type=notify", "NotifyAccess=main", "WatchdogSec=30s", "Restart=always", "StartLimitIntervalSec=0", "StateDirectory=edgerelay",
            "AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "MemoryDenyWriteExecute=yes",
            "SystemCallFilter=@system-service io_uring_setup io_uring_enter io_uring_register",
        })
        {
            Assert.Contains(expected, lines);
        }
    }

    /// <summary>
    /// The package's edgerelay-timesync units (the configuration's NTP servers for timesyncd) and the image's
    /// state and provisioning units, with their scripts at the repository's paths.
    /// </summary>
    [Fact]
    public void Systemd_analyze_verify_accepts_the_timesync_state_and_provisioning_units()
    {
        string repository = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));
        (string Source, string Script, string Installed)[] units =
        [
            ("image/systemd/edgerelay-timesync.path", "", ""),
            ("image/systemd/edgerelay-timesync.service", "image/systemd/edgerelay-timesync", "/usr/lib/edgerelay/timesync"),
            ("image/rootfs/etc/systemd/system/edgerelay-provision.service", "image/rootfs/usr/lib/edgerelay/provision", "/usr/lib/edgerelay/provision"),
            ("image/rootfs/etc/systemd/system/edgerelay-state.service", "image/rootfs/usr/lib/edgerelay/state-mounts", "/usr/lib/edgerelay/state-mounts"),
        ];
        var copies = new List<string>();
        foreach ((string source, string script, string installed) in units)
        {
            string text = File.ReadAllText(Path.Combine(repository, source));
            if (script.Length > 0)
            {
                Assert.Contains($"ExecStart={installed}", text);
                text = text.Replace($"ExecStart={installed}", $"ExecStart={Path.Combine(repository, script)}", StringComparison.Ordinal);
            }
            string copy = Path.Combine(_directory, Path.GetFileName(source));
            File.WriteAllText(copy, text);
            copies.Add(copy);
        }
        (int exit, string output) = ExternalProcess.Run(Timeout, "systemd-analyze", ["verify", .. copies]);
        Assert.True(exit == 0, output);
        Assert.DoesNotContain(".service:", output);
        Assert.DoesNotContain(".path:", output);
    }

    [GeneratedRegex(@"Overall exposure level for \S+: (\d+\.\d+)")]
    private static partial Regex OverallExposure();

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
