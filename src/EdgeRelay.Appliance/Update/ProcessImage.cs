using System.Collections;
using System.Runtime.InteropServices;

namespace EdgeRelay.Appliance.Update;

/// <summary>execve(2): this process becomes another binary, keeping its PID, its open descriptors without O_CLOEXEC, and its parent.</summary>
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

    [LibraryImport("libc", EntryPoint = "execve", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Execve(string path, string?[] argv, string?[] envp);
}
