using System.Diagnostics;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>
/// A directory in which nothing can be created, renamed or removed, as on a state partition that the kernel
/// remounted read-only after an error. The tests run as root, for whom a mode of 0555 means nothing: as root
/// the directory is made immutable (chattr +i, FS_IMMUTABLE_FL, which binds root too); otherwise it is
/// chmod 0555. Either way a probe file must fail to appear, or the test fails saying why.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class ReadOnlyDirectory : IDisposable
{
    private readonly string _path;
    private readonly bool _immutable;
    private bool _disposed;

    private ReadOnlyDirectory(string path, bool immutable)
    {
        _path = path;
        _immutable = immutable;
    }

    public static bool IsRoot => GetEffectiveUserId() == 0;

    public static ReadOnlyDirectory Make(string path)
    {
        bool immutable = IsRoot;
        if (immutable)
        {
            Chattr("+i", path);
        }
        else
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead
                | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        var made = new ReadOnlyDirectory(path, immutable);
        string probe = Path.Combine(path, ".probe-" + Guid.NewGuid().ToString("N"));
        try
        {
            File.WriteAllBytes(probe, []);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return made; // as it should be
        }
        made.Dispose();
        File.Delete(probe);
        throw new InvalidOperationException(
            $"{path} could not be made read-only ({(immutable ? "chattr +i as root: the file system ignores FS_IMMUTABLE_FL" : "chmod 0555")}): "
            + "this test needs a directory where a write fails");
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        if (_immutable)
        {
            Chattr("-i", _path);
        }
        else
        {
            File.SetUnixFileMode(_path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static void Chattr(string flag, string path)
    {
        var start = new ProcessStartInfo("chattr") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(flag);
        start.ArgumentList.Add(path);
        using Process chattr = Process.Start(start) ?? throw new InvalidOperationException("chattr did not start (Debian's e2fsprogs)");
        string error = chattr.StandardError.ReadToEnd();
        chattr.WaitForExit();
        if (chattr.ExitCode != 0)
        {
            throw new InvalidOperationException($"chattr {flag} {path} failed ({chattr.ExitCode}): {error}");
        }
    }

    private static uint GetEffectiveUserId()
    {
        // /proc/self/status: "Uid:\treal\teffective\tsaved\tfs".
        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        return line is null ? uint.MaxValue : uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2], System.Globalization.CultureInfo.InvariantCulture);
    }
}
