using System.Globalization;
using System.Runtime.InteropServices;

namespace EdgeRelay.Tests.Shared;

/// <summary>
/// The nginx processes of <see cref="NginxServer"/> as Linux shows them in /proc: a master and its
/// workers, signalled with kill(2).
/// </summary>
internal static class NginxProcesses
{
    public const int SIGHUP = 1;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SysKill(int pid, int signal);

    [DllImport("libc", EntryPoint = "geteuid")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern uint SysGetEuid();

    public static bool IsRoot => SysGetEuid() == 0;

    public static bool Signal(int pid, int signal) => pid > 0 && SysKill(pid, signal) == 0;

    /// <summary>Alive and not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        string? stat = Stat(pid);
        return stat is not null && StatField(stat, 3) is not ("Z" or "X");
    }

    /// <summary>/proc/PID/cmdline with its NULs as spaces (nginx rewrites it: "nginx: worker process").</summary>
    public static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    public static IReadOnlyList<int> ChildrenOf(int parent)
    {
        var children = new List<int>();
        foreach (string directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                && Stat(pid) is { } stat
                && StatField(stat, 4) == parent.ToString(CultureInfo.InvariantCulture))
            {
                children.Add(pid);
            }
        }

        return children;
    }

    /// <summary>
    /// Stops a master and its workers: SIGTERM (nginx's fast shutdown: the master stops its workers,
    /// which drop their connections, then exits), and SIGKILL for whatever is left after
    /// <paramref name="grace"/>.
    /// </summary>
    public static void StopTree(int master, TimeSpan grace)
    {
        if (!IsAlive(master))
        {
            return;
        }

        IReadOnlyList<int> workers = ChildrenOf(master);
        Signal(master, SIGTERM);
        DateTime deadline = DateTime.UtcNow + grace;
        while (DateTime.UtcNow < deadline && (IsAlive(master) || workers.Any(IsAlive)))
        {
            Thread.Sleep(10);
        }

        if (IsAlive(master) || workers.Any(IsAlive))
        {
            KillTree(master, workers);
        }
    }

    /// <summary>
    /// SIGKILL to a master, then to its workers. In this order: a master that sees a worker die starts
    /// a new one, which nobody would then kill.
    /// </summary>
    public static void KillTree(int master, IReadOnlyList<int>? knownWorkers = null)
    {
        IEnumerable<int> workers = ChildrenOf(master).Concat(knownWorkers ?? []);
        Signal(master, SIGKILL);
        foreach (int pid in workers.Distinct().Where(IsAlive))
        {
            Signal(pid, SIGKILL);
        }
    }

    /// <summary>Field 22 of /proc/PID/stat: with the pid, it names one process for good.</summary>
    public static string? StartTime(int pid) => Stat(pid) is { } stat ? StatField(stat, 22) : null;

    private static string? Stat(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Field N (1-based, as proc(5) numbers them) of /proc/PID/stat; the name in field 2 may hold spaces.</summary>
    private static string? StatField(string stat, int field)
    {
        int close = stat.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }

        string[] rest = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int index = field - 3;
        return index >= 0 && index < rest.Length ? rest[index] : null;
    }
}
