using System.Text.Json;
using EdgeRelay.Tests.Probe;
using EdgeRelay.Tests.Support;
using Xunit.Abstractions;

namespace EdgeRelay.Tests.Packaging;

/// <summary>
/// The Debian package (scripts/package-deb.sh amd64, lintian clean) in a fresh Debian 12 root made by mmdebstrap
/// from the configured mirror: dpkg -i leaves the unit enabled, the conffile in place (root:edgerelay 0640), the
/// user and the gpio group made; the installed relay, run as its user with the installed configuration, reports
/// "needs configuration" (D5, amber) and relays for nobody; dpkg -r leaves only the conffile, and dpkg -P leaves
/// the root as it was before. An upgrade keeps the admin's edits and state.
/// </summary>
public sealed class DebianPackageTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);
    private readonly string _root = Directory.CreateTempSubdirectory("edgerelay-debian-root-").FullName;

    [Fact]
    public void The_package_installs_into_a_fresh_Debian_12_enabled_and_needing_configuration_and_purge_leaves_nothing()
    {
        string deb = BuildPackage();
        MakeRoot();
        string[] before = Files();
        File.Copy(deb, Path.Combine(_root, "tmp", "edgerelay.deb"));

        Chroot("dpkg", "-i", "/tmp/edgerelay.deb");
        Assert.Equal("enabled", Run("systemctl", "--root=" + _root, "is-enabled", "edgerelay.service").Trim());
        Assert.Equal("enabled", Run("systemctl", "--root=" + _root, "is-enabled", "edgerelay-timesync.path").Trim());
        Assert.Contains("/etc/edgerelay/edgerelay.json", Chroot("dpkg-query", "-W", "-f=${Conffiles}", "edgerelay"));
        Assert.Equal("root:edgerelay 640", Chroot("stat", "-c", "%U:%G %a", "/etc/edgerelay/edgerelay.json").Trim());
        Assert.Equal("edgerelay:edgerelay 700", Chroot("stat", "-c", "%U:%G %a", "/var/lib/edgerelay").Trim());
        Assert.Contains("gpio", Chroot("id", "-nG", "edgerelay"));

        AssertNeedsConfiguration();
        AssertNtpServersReachTimesyncd();

        Chroot("dpkg", "-r", "edgerelay");
        Assert.False(File.Exists(Path.Combine(_root, "usr/bin/edgerelay")));
        Assert.True(File.Exists(Path.Combine(_root, "etc/edgerelay/edgerelay.json")), "dpkg -r keeps the conffile until purge");

        Chroot("dpkg", "-P", "edgerelay");
        string[] after = Files();
        string[] left = after.Except(before).ToArray(), lost = before.Except(after).ToArray();
        Assert.True(left.Length == 0 && lost.Length == 0, $"after purge, left: [{string.Join(", ", left)}]; lost: [{string.Join(", ", lost)}]");
        Assert.DoesNotContain("edgerelay", File.ReadAllText(Path.Combine(_root, "etc/passwd")), StringComparison.Ordinal);
        Assert.DoesNotContain("gpio", File.ReadAllText(Path.Combine(_root, "etc/group")), StringComparison.Ordinal);
    }

    /// <summary>
    /// An upgrade to a newer package keeps what the admin did: the edited conffile (a user added, so the relay no
    /// longer needs configuration), the relay's state, and a "disable" of the service.
    /// </summary>
    [Fact]
    public void An_upgrade_keeps_the_edited_configuration_the_state_and_a_disabled_service()
    {
        string older = BuildPackage(), newer = BuildPackage("0.1.0+upgrade.test");
        MakeRoot();
        File.Copy(older, Path.Combine(_root, "tmp", "older.deb"));
        File.Copy(newer, Path.Combine(_root, "tmp", "newer.deb"));
        Chroot("dpkg", "-i", "/tmp/older.deb");

        string config = Path.Combine(_root, "etc/edgerelay/edgerelay.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"users\": {", "\"users\": { \"alice\": \"a long password for the upgrade test\"", StringComparison.Ordinal));
        string state = Path.Combine(_root, "var/lib/edgerelay/cloud-configuration.json");
        File.WriteAllText(state, "{}");
        Run("systemctl", "--root=" + _root, "disable", "edgerelay.service");

        Chroot("dpkg", "-i", "/tmp/newer.deb");
        Assert.Equal("0.1.0+upgrade.test", Chroot("dpkg-query", "-W", "-f=${Version}", "edgerelay").Trim());
        Assert.Contains("a long password for the upgrade test", File.ReadAllText(config), StringComparison.Ordinal);
        Assert.Equal("root:edgerelay 640", Chroot("stat", "-c", "%U:%G %a", "/etc/edgerelay/edgerelay.json").Trim());
        Assert.True(File.Exists(state), "the relay's state survives an upgrade");
        // is-enabled says "disabled" and exits 1.
        Assert.Equal("disabled", ExternalProcess.Run(Limit, "systemctl", "--root=" + _root, "is-enabled", "edgerelay.service").Output.Trim());

        JsonElement status = RelayStatus();
        Assert.DoesNotContain("D5-needs-configuration", status.GetProperty("reasons").EnumerateArray().Select(r => r.GetProperty("code").GetString()));
    }

    /// <summary>The package for the Raspberry Pi: lintian clean too, and it carries the arm64 binary.</summary>
    [Fact]
    public void The_arm64_package_is_lintian_clean_and_carries_the_arm64_binary()
    {
        (int exit, string built) = ExternalProcess.Run(Limit, Path.Combine(AotBinary.RepositoryRoot, "scripts", "package-deb.sh"), "arm64");
        Assert.True(exit == 0, built);
        string deb = PackagePath(built);
        output.WriteLine(built);
        Assert.Equal("arm64", Run("dpkg-deb", "-f", deb, "Architecture").Trim());
        Run("dpkg-deb", "-x", deb, _root);
        byte[] header = File.ReadAllBytes(Path.Combine(_root, "usr/bin/edgerelay"))[..20];
        Assert.Equal(183, header[18] | (header[19] << 8)); // EM_AARCH64
    }

    /// <summary>
    /// The installed binary with the installed configuration, as the service would run it (its user and groups),
    /// in a network namespace of the test's own: healthy enough to listen, degraded by D5, amber.
    /// </summary>
    private void AssertNeedsConfiguration()
    {
        JsonElement status = RelayStatus(out string log);
        Assert.Contains("D5-needs-configuration", status.GetProperty("reasons").EnumerateArray().Select(r => r.GetProperty("code").GetString()));
        // D11 as well where the test machine's kernel clock is not synchronised (a container without NTP): amber and green by turns.
        bool clock = status.GetProperty("reasons").EnumerateArray().Any(r => r.GetProperty("code").GetString() == "D11-clock-unsynchronised");
        Assert.Equal(clock ? "DegradedClock" : "Degraded", status.GetProperty("led").GetProperty("mode").GetString());
        Assert.Contains("No credential is configured", log, StringComparison.Ordinal);
    }

    private JsonElement RelayStatus() => RelayStatus(out _);

    private JsonElement RelayStatus(out string log)
    {
        using NatLab lab = NatLab.Create(NatLabKind.Masquerade);
        using ExternalProcess relay = NatLab.Start(lab.Server, "chroot", "--userspec=edgerelay:edgerelay", "--groups=gpio", _root,
            "/usr/bin/edgerelay", "run", "--config", "/etc/edgerelay/edgerelay.json");
        Assert.True(relay.WaitForOutput("Status page on", TimeSpan.FromSeconds(60)), relay.Output);
        JsonElement status = JsonDocument.Parse(NatLab.Exec(lab.Server, "curl", "-sf", "http://127.0.0.1:8080/api/status")).RootElement.Clone();
        output.WriteLine(status.ToString());
        log = relay.Output;
        return status;
    }

    /// <summary>
    /// edgerelay-timesync (what the path unit runs when the relay writes its state directory's timesyncd.conf from
    /// time.ntpServers) hands the servers to systemd-timesyncd through /run, and refuses anything but servers.
    /// </summary>
    private void AssertNtpServersReachTimesyncd()
    {
        string source = Path.Combine(_root, "var/lib/edgerelay/timesyncd.conf");
        string dropIn = Path.Combine(_root, "run/systemd/timesyncd.conf.d/50-edgerelay.conf");
        File.WriteAllText(source, "[Time]\nNTP=ntp.example.org 192.0.2.123 2001:db8::123\n");
        Chroot("/usr/lib/edgerelay/timesync");
        Assert.Contains("\nNTP=ntp.example.org 192.0.2.123 2001:db8::123\n", File.ReadAllText(dropIn), StringComparison.Ordinal);

        foreach (string hostile in new[] { "[Time]\nNTP=a.example.org\nFallbackNTP=evil.example.org\n", "[Time]\nNTP=a;reboot\n", "[Time]\nNTP=\n" })
        {
            File.WriteAllText(source, hostile);
            (int exit, string text) = ExternalProcess.Run(Limit, "chroot", _root, "/usr/lib/edgerelay/timesync");
            Assert.True(exit != 0, $"refused: {hostile}\n{text}");
            Assert.Contains("NTP=ntp.example.org 192.0.2.123 2001:db8::123", File.ReadAllText(dropIn), StringComparison.Ordinal);
        }

        // The file is the relay's: a link to a file only root may read is refused, and not read.
        File.Delete(source);
        File.CreateSymbolicLink(source, "/etc/shadow");
        (int linkExit, string linkText) = ExternalProcess.Run(Limit, "chroot", _root, "/usr/lib/edgerelay/timesync");
        Assert.True(linkExit != 0, linkText);
        Assert.Contains("not a plain file", linkText, StringComparison.Ordinal);

        File.Delete(source);
        Chroot("/usr/lib/edgerelay/timesync");
        Assert.False(File.Exists(dropIn), "without time.ntpServers timesyncd keeps its own servers");
    }

    private string BuildPackage(string? version = null)
    {
        Assert.True(Environment.IsPrivilegedProcess, "the package test needs root (mmdebstrap, chroot); run scripts/test.sh as root");
        string script = Path.Combine(AotBinary.RepositoryRoot, "scripts", "package-deb.sh");
        (int exit, string built) = version is null
            ? ExternalProcess.Run(Limit, script, "amd64")
            : ExternalProcess.Run(Limit, "env", "EDGERELAY_DEB_VERSION=" + version, script, "amd64");
        Assert.True(exit == 0, built);
        output.WriteLine(built);
        return PackagePath(built);
    }

    /// <summary>The package's path: the script's last line on standard output (lintian's notes go to standard error).</summary>
    private static string PackagePath(string built) =>
        Path.Combine(AotBinary.RepositoryRoot, built.Split('\n').Select(line => line.Trim()).Last(line => line.StartsWith("artifacts/", StringComparison.Ordinal) && line.EndsWith(".deb", StringComparison.Ordinal)));

    /// <summary>A fresh Debian 12: the minimal base, and what the package depends on (as apt would bring them).</summary>
    private void MakeRoot() =>
        Run("mmdebstrap", "--quiet", "--variant=minbase", "--include=systemd,systemd-timesyncd,libssl3,adduser", "bookworm", _root,
            "/etc/apt/sources.list.d/debian.sources");

    /// <summary>
    /// Every path under the root but those that change by themselves: dpkg's database, logs, caches, and what is
    /// a tmpfs on a running system (/tmp, /run: adduser leaves its lock file there).
    /// </summary>
    private string[] Files() =>
        Directory.EnumerateFileSystemEntries(_root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(p => Path.GetRelativePath(_root, p))
            .Where(p => !p.StartsWith("var/lib/dpkg", StringComparison.Ordinal) && !p.StartsWith("var/log", StringComparison.Ordinal)
                        && !p.StartsWith("var/cache", StringComparison.Ordinal) && !p.StartsWith("tmp", StringComparison.Ordinal)
                        && !p.StartsWith("run", StringComparison.Ordinal) && !p.StartsWith("proc", StringComparison.Ordinal)
                        && !p.StartsWith("dev", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToArray();

    private string Chroot(params string[] command) => Run(["chroot", _root, .. command]);

    private static string Run(params string[] command)
    {
        (int exit, string text) = ExternalProcess.Run(Limit, command[0], command[1..]);
        Assert.True(exit == 0, $"{string.Join(' ', command)}: exit {exit}\n{text}");
        return text;
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
