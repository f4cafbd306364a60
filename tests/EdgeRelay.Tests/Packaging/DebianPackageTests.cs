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
/// the root as it was before.
/// </summary>
public sealed class DebianPackageTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);
    private readonly string _root = Directory.CreateTempSubdirectory("edgerelay-debian-root-").FullName;

    [Fact]
    public void The_package_installs_into_a_fresh_Debian_12_enabled_and_needing_configuration_and_purge_leaves_nothing()
    {
        Assert.True(Environment.IsPrivilegedProcess, "the package test needs root (mmdebstrap, chroot); run scripts/test.sh as root");
        (int exit, string built) = ExternalProcess.Run(Limit, Path.Combine(AotBinary.RepositoryRoot, "scripts", "package-deb.sh"), "amd64");
        Assert.True(exit == 0, built);
        string deb = Path.Combine(AotBinary.RepositoryRoot, built.Trim().Split('\n')[^1].Trim());
        output.WriteLine(built);

        // A fresh Debian 12: the minimal base, and what the package depends on (as apt would bring them).
        Run("mmdebstrap", "--quiet", "--variant=minbase", "--include=systemd,libssl3,adduser", "bookworm", _root, "/etc/apt/sources.list.d/debian.sources");
        string[] before = Files();
        File.Copy(deb, Path.Combine(_root, "tmp", "edgerelay.deb"));

        Chroot("dpkg", "-i", "/tmp/edgerelay.deb");
        Assert.Equal("enabled", Run("systemctl", "--root=" + _root, "is-enabled", "edgerelay.service").Trim());
        Assert.Contains("/etc/edgerelay/edgerelay.json", Chroot("dpkg-query", "-W", "-f=${Conffiles}", "edgerelay"));
        Assert.Equal("root:edgerelay 640", Chroot("stat", "-c", "%U:%G %a", "/etc/edgerelay/edgerelay.json").Trim());
        Assert.Equal("edgerelay:edgerelay 700", Chroot("stat", "-c", "%U:%G %a", "/var/lib/edgerelay").Trim());
        Assert.Contains("gpio", Chroot("id", "-nG", "edgerelay"));

        AssertNeedsConfiguration();

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

    /// <summary>The package for the Raspberry Pi: lintian clean too, and it carries the arm64 binary.</summary>
    [Fact]
    public void The_arm64_package_is_lintian_clean_and_carries_the_arm64_binary()
    {
        (int exit, string built) = ExternalProcess.Run(Limit, Path.Combine(AotBinary.RepositoryRoot, "scripts", "package-deb.sh"), "arm64");
        Assert.True(exit == 0, built);
        string deb = Path.Combine(AotBinary.RepositoryRoot, built.Trim().Split('\n')[^1].Trim());
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
        using NatLab lab = NatLab.Create(NatLabKind.Masquerade);
        using ExternalProcess relay = NatLab.Start(lab.Server, "chroot", "--userspec=edgerelay:edgerelay", "--groups=gpio", _root,
            "/usr/bin/edgerelay", "run", "--config", "/etc/edgerelay/edgerelay.json");
        Assert.True(relay.WaitForOutput("Status page on", TimeSpan.FromSeconds(60)), relay.Output);
        JsonElement status = JsonDocument.Parse(NatLab.Exec(lab.Server, "curl", "-sf", "http://127.0.0.1:8080/api/status")).RootElement;
        output.WriteLine(status.ToString());
        Assert.Contains("D5-needs-configuration", status.GetProperty("reasons").EnumerateArray().Select(r => r.GetProperty("code").GetString()));
        // D11 as well where the test machine's kernel clock is not synchronised (a container without NTP): amber and green by turns.
        bool clock = status.GetProperty("reasons").EnumerateArray().Any(r => r.GetProperty("code").GetString() == "D11-clock-unsynchronised");
        Assert.Equal(clock ? "DegradedClock" : "Degraded", status.GetProperty("led").GetProperty("mode").GetString());
        Assert.Contains("No credential is configured", relay.Output, StringComparison.Ordinal);
    }

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
