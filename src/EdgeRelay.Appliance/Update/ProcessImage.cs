using System.Collections;
using System.Runtime.InteropServices;

namespace EdgeRelay.Appliance.Update;

/// <summary>
/// execve(2): this process becomes another binary, keeping its PID, its open descriptors without O_CLOEXEC, and its parent;
/// and what the trial guard needs of its parent, the release it watches.
/// </summary>
public static partial class ProcessImage
{
    /// <summary>Returns only when execve failed, with why; on success nothing returns.</summary>
    public static string Replace(string path, IReadOnlyList<string> arguments, IReadOnlyList<(string Name, string Value)> environment)
    {
        var names = environment.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        var variables = new List<string?>();
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string name && !names.Contains(name))
            {
                variables.Add($"{name}={entry.Value}");
            }
        }
        variables.AddRange(environment.Select(e => $"{e.Name}={e.Value}"));
        variables.Add(null);
        string?[] argv = [path, .. arguments, null];
        _ = Execve(path, argv, [.. variables]);
        return Marshal.GetLastPInvokeErrorMessage();
    }

    /// <summary>getppid(2): the parent's PID, which becomes another (init, a subreaper) the moment the parent ends.</summary>
    public static int ParentId() => GetParentId();

    /// <summary>kill(2) with SIGKILL: false when there is no such process (or it is not ours to signal).</summary>
    public static bool KillNow(int pid) => Kill(pid, SigKill) == 0;

    private const int SigKill = 9;

    [LibraryImport("libc", EntryPoint = "getppid")]
    private static partial int GetParentId();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "execve", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Execve(string path, string?[] argv, string?[] envp);
}
