using System.Globalization;

namespace EdgeRelay.Load;

/// <summary>The server's CPU time and memory, read from /proc/PID as top does.</summary>
internal sealed class ServerProcess(int pid)
{
    /// <summary>USER_HZ: the unit of utime and stime in /proc/PID/stat, 100 on every Linux this runs on.</summary>
    private const double TicksPerSecond = 100.0;

    /// <summary>User plus system CPU seconds of all its threads so far.</summary>
    public double CpuSeconds()
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        // Fields after the command name (which may hold spaces, inside parentheses): state is field 3.
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long utime = long.Parse(fields[11], CultureInfo.InvariantCulture);
        long stime = long.Parse(fields[12], CultureInfo.InvariantCulture);
        return (utime + stime) / TicksPerSecond;
    }

    public long RssKilobytes()
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }
        return -1;
    }
}
