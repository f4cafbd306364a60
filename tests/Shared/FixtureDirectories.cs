using System.Collections.Concurrent;
using System.Globalization;

namespace EdgeRelay.Tests.Shared;

/// <summary>
/// The private temporary directories of the fixtures (0700, under the system's temporary directory).
/// Each names its owner (pid and start time, since a pid alone may be reused): what a test host leaves
/// behind is deleted when it exits, and what a killed test host leaves behind is swept up by the next
/// one to make a directory, stopping the nginx whose pid file is inside it.
/// </summary>
internal static class FixtureDirectories
{
    public const string NginxPrefix = "edgerelay-nginx-";
    public const string CertificateAuthorityPrefix = "edgerelay-ca-";
    private const string OwnerFile = "owner";

    private static readonly ConcurrentDictionary<string, byte> Live = new();
    private static readonly Lazy<bool> Swept = new(() =>
    {
        SweepAbandoned();
        return true;
    });

    static FixtureDirectories()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (string directory in Live.Keys)
            {
                TryDelete(directory);
            }
        };
    }

    public static string Create(string prefix)
    {
        _ = Swept.Value;
        string directory = Directory.CreateTempSubdirectory(prefix).FullName;
        File.WriteAllText(Path.Combine(directory, OwnerFile), $"{Environment.ProcessId} {NginxProcesses.StartTime(Environment.ProcessId)}");
        Live.TryAdd(directory, 0);
        return directory;
    }

    public static void Delete(string directory)
    {
        Live.TryRemove(directory, out _);
        TryDelete(directory);
    }

    private static void SweepAbandoned()
    {
        IEnumerable<string> directories = new[] { NginxPrefix, CertificateAuthorityPrefix }
            .SelectMany(prefix => Directory.EnumerateDirectories(Path.GetTempPath(), prefix + "*"));
        foreach (string directory in directories)
        {
            try
            {
                string ownerPath = Path.Combine(directory, OwnerFile);
                if (!File.Exists(ownerPath))
                {
                    // Being made right now, or never finished: only old ones are someone's leftovers.
                    if (Directory.GetCreationTimeUtc(directory) > DateTime.UtcNow.AddMinutes(-10))
                    {
                        continue;
                    }
                }
                else
                {
                    string[] owner = File.ReadAllText(ownerPath).Split(' ');
                    if (owner.Length == 2 && int.TryParse(owner[0], CultureInfo.InvariantCulture, out int ownerPid)
                        && NginxProcesses.IsAlive(ownerPid) && NginxProcesses.StartTime(ownerPid) == owner[1])
                    {
                        continue;
                    }
                }

                string pidPath = Path.Combine(directory, NginxServer.PidFileName);
                if (File.Exists(pidPath)
                    && int.TryParse(File.ReadAllText(pidPath).Trim(), CultureInfo.InvariantCulture, out int master)
                    && NginxProcesses.CommandLine(master).Contains(directory, StringComparison.Ordinal))
                {
                    NginxProcesses.StopTree(master, TimeSpan.FromSeconds(5));
                }

                Directory.Delete(directory, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another test host sweeping at the same time: one of the two deletes it.
            }
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
