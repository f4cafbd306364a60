using System.Runtime.InteropServices;

namespace EdgeRelay.Net.Linux;

/// <summary>
/// The engine holds a descriptor per relayed transport address and per TCP or TLS client: by default up to
/// 2000 allocations and 1000 connections, past the soft limit of 1024 open files that a shell or a systemd
/// service starts with. CoreCLR raises the soft limit to the hard one at start; Native AOT does not, so the
/// engine does (setrlimit(2) allows any process to raise its soft limit up to its hard limit).
/// </summary>
internal static unsafe partial class OpenFileLimit
{
    private const int RlimitNofile = 7;

    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    /// <summary>Raises the soft limit of open files to the hard one; returns the limit now in force, or null off Linux or on failure.</summary>
    public static ulong? RaiseToHardLimit()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        RLimit limit;
        if (GetRLimit(RlimitNofile, &limit) != 0)
        {
            return null;
        }
        if (limit.Current < limit.Maximum)
        {
            RLimit raised = limit with { Current = limit.Maximum };
            if (SetRLimit(RlimitNofile, &raised) == 0)
            {
                return raised.Current;
            }
        }
        return limit.Current;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit")]
    private static partial int GetRLimit(int resource, RLimit* limit);

    [LibraryImport("libc", EntryPoint = "setrlimit")]
    private static partial int SetRLimit(int resource, RLimit* limit);
}
