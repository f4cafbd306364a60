using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using EdgeRelay.Tests.Support;

namespace EdgeRelay.Tests.Probe;

/// <summary>The NAT of a <see cref="NatLab"/>: the iptables rule in its middle namespace.</summary>
public enum NatLabKind
{
    /// <summary><c>-j MASQUERADE</c>.</summary>
    Masquerade,

    /// <summary><c>-j MASQUERADE --random-fully</c>.</summary>
    MasqueradeRandomFully,
}

/// <summary>
/// Three network namespaces of this test process, joined by veth pairs, with Linux's own NAT in the middle:
/// <code>
///  client ns                 nat ns                              server ns
///  c0 192.168.99.2/24 ─ n0 192.168.99.1/24 │ n1 10.99.0.254/24 ─ s0 10.99.0.1/24 and 10.99.0.2/24
///  default via .1             ip_forward=1, POSTROUTING -o n1 -j MASQUERADE [--random-fully]
/// </code>
/// The veth ends are created inside their namespaces (never in the host's), the addresses exist only there,
/// and Dispose deletes the namespaces with everything in them. Names carry the process id, so that a run
/// killed halfway leaves names that the next run recognises and removes (<see cref="RemoveLeftovers"/>).
/// </summary>
public sealed partial class NatLab : IDisposable
{
    public const string ServerAddress = "10.99.0.1";
    public const string AlternateAddress = "10.99.0.2";
    public const string NatOutsideAddress = "10.99.0.254";
    public const string ClientAddress = "192.168.99.2";

    private const string Prefix = "erlab";
    private static int s_labs;
    private static readonly Lock s_leftovers = new();
    private static bool s_leftoversRemoved;

    private readonly List<string> _namespaces = [];

    private NatLab(NatLabKind kind)
    {
        string id = $"{Prefix}{Environment.ProcessId}-{Interlocked.Increment(ref s_labs)}";
        Server = id + "s";
        Nat = id + "n";
        Client = id + "c";
        Kind = kind;
    }

    public NatLabKind Kind { get; }
    public string Server { get; }
    public string Nat { get; }
    public string Client { get; }

    public static NatLab Create(NatLabKind kind)
    {
        string ip = Tool("ip", "iproute2");
        Tool("iptables", "iptables");
        Assert.True(Environment.IsPrivilegedProcess, "the network-namespace tests need root (ip netns, iptables); run scripts/test.sh as root");
        RemoveLeftovers();
        var lab = new NatLab(kind);
        try
        {
            foreach (string name in new[] { lab.Server, lab.Nat, lab.Client })
            {
                Run(ip, "netns", "add", name);
                lab._namespaces.Add(name);
                Run(ip, "-n", name, "link", "set", "lo", "up");
            }
            Run(ip, "link", "add", "c0", "netns", lab.Client, "type", "veth", "peer", "name", "n0", "netns", lab.Nat);
            Run(ip, "link", "add", "n1", "netns", lab.Nat, "type", "veth", "peer", "name", "s0", "netns", lab.Server);
            Run(ip, "-n", lab.Client, "addr", "add", ClientAddress + "/24", "dev", "c0");
            Run(ip, "-n", lab.Client, "link", "set", "c0", "up");
            Run(ip, "-n", lab.Client, "route", "add", "default", "via", "192.168.99.1");
            Run(ip, "-n", lab.Nat, "addr", "add", "192.168.99.1/24", "dev", "n0");
            Run(ip, "-n", lab.Nat, "link", "set", "n0", "up");
            Run(ip, "-n", lab.Nat, "addr", "add", NatOutsideAddress + "/24", "dev", "n1");
            Run(ip, "-n", lab.Nat, "link", "set", "n1", "up");
            Run(ip, "-n", lab.Server, "addr", "add", ServerAddress + "/24", "dev", "s0");
            Run(ip, "-n", lab.Server, "addr", "add", AlternateAddress + "/24", "dev", "s0");
            Run(ip, "-n", lab.Server, "link", "set", "s0", "up");
            // Forwarding is a setting of each namespace; the host's stays as it is.
            Exec(lab.Nat, "sysctl", "-qw", "net.ipv4.ip_forward=1");
            string[] masquerade = ["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "n1", "-j", "MASQUERADE"];
            Exec(lab.Nat, kind == NatLabKind.MasqueradeRandomFully ? [.. masquerade, "--random-fully"] : masquerade);
            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Runs a command inside <paramref name="space"/> (<c>ip netns exec</c>) and fails the test when it fails.</summary>
    public static string Exec(string space, params string[] command) => Run(Tool("ip", "iproute2"), ["netns", "exec", space, .. command]);

    /// <summary>Starts a long-running program inside <paramref name="space"/>; the caller disposes it.</summary>
    public static ExternalProcess Start(string space, params string[] command) =>
        ExternalProcess.Start(Tool("ip", "iproute2"), ["netns", "exec", space, .. command]);

    /// <summary>Runs a program inside <paramref name="space"/> to its end.</summary>
    public static (int ExitCode, string Output) RunIn(string space, TimeSpan limit, params string[] command) =>
        ExternalProcess.Run(limit, Tool("ip", "iproute2"), ["netns", "exec", space, .. command]);

    private static string Run(string fileName, params string[] arguments)
    {
        (int exit, string output) = ExternalProcess.Run(TimeSpan.FromSeconds(30), fileName, arguments);
        Assert.True(exit == 0, $"{fileName} {string.Join(' ', arguments)} exited {exit}:\n{output}");
        return output;
    }

    /// <summary>Debian's tools from PATH or the sbin directories; missing means scripts/test.sh has not run here.</summary>
    private static string Tool(string name, string package)
    {
        string? path = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin", "/usr/bin"])
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);
        Assert.True(path is not null, $"{name} is missing: install Debian's {package} package (scripts/test.sh does)");
        return path!;
    }

    /// <summary>Namespaces of test processes that are gone (killed before their Dispose ran): deleted once a run.</summary>
    private static void RemoveLeftovers()
    {
        lock (s_leftovers)
        {
            if (s_leftoversRemoved)
            {
                return;
            }
            s_leftoversRemoved = true;
            string ip = Tool("ip", "iproute2");
            foreach (Match match in LabName().Matches(Run(ip, "netns", "list")))
            {
                int pid = int.Parse(match.Groups["pid"].Value, CultureInfo.InvariantCulture);
                if (pid != Environment.ProcessId && !IsRunning(pid))
                {
                    ExternalProcess.Run(TimeSpan.FromSeconds(30), ip, "netns", "delete", match.Groups["name"].Value);
                }
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using Process process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"(?m)^(?<name>erlab(?<pid>\d+)-\d+[snc])\b")]
    private static partial Regex LabName();

    public void Dispose()
    {
        string ip = Tool("ip", "iproute2");
        foreach (string name in _namespaces)
        {
            // Processes still inside keep a namespace alive after its name is gone; the tests stop theirs first.
            ExternalProcess.Run(TimeSpan.FromSeconds(30), ip, "netns", "delete", name);
        }
        _namespaces.Clear();
    }
}
