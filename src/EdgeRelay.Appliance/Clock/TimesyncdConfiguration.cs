using System.Text;
using EdgeRelay.Appliance.Cloud;

namespace EdgeRelay.Appliance.Clock;

/// <summary>
/// The NTP servers of <c>time.ntpServers</c>, handed to systemd-timesyncd. The relay runs unprivileged and
/// cannot write /etc or /run/systemd, so it writes <c>stateDirectory/timesyncd.conf</c>, and a root-side
/// systemd path unit of the image and the .deb (image/systemd/edgerelay-timesync.path) checks and copies it to
/// /run/systemd/timesyncd.conf.d/ and restarts systemd-timesyncd. The contract with that unit: the file holds exactly <c>"[Time]\nNTP=SERVERS\n"</c>
/// (timesyncd.conf(5); the servers separated by spaces, each checked to be a name or an address), mode
/// 0644, replaced atomically; without servers there is no file.
/// </summary>
public static class TimesyncdConfiguration
{
    public const string FileName = "timesyncd.conf";

    public static string Content(IReadOnlyList<string> servers) => $"[Time]\nNTP={string.Join(' ', servers)}\n";

    /// <summary>
    /// Writes or deletes the file; returns whether it changed. An unchanged file is left alone, so that the
    /// path unit does not restart timesyncd for nothing at every start or configuration change.
    /// </summary>
    public static bool Apply(string stateDirectory, IReadOnlyList<string> servers)
    {
        string path = Path.Combine(stateDirectory, FileName);
        if (servers.Count == 0)
        {
            if (!File.Exists(path))
            {
                return false;
            }
            File.Delete(path);
            return true;
        }
        byte[] content = Encoding.ASCII.GetBytes(Content(servers));
        try
        {
            if (File.ReadAllBytes(path).AsSpan().SequenceEqual(content)
                && (OperatingSystem.IsWindows() || File.GetUnixFileMode(path) == Mode))
            {
                return false;
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // Not written yet.
        }
        Directory.CreateDirectory(stateDirectory);
        AtomicFile.Write(path, content, Mode);
        return true;
    }

    private const UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
}
