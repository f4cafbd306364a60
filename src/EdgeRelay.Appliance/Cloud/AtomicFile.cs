using System.Runtime.InteropServices;

namespace EdgeRelay.Appliance.Cloud;

/// <summary>
/// Replaces a file so that a crash or a power cut at any moment leaves either the old content or the
/// new, never a mix or an empty file: the new content goes to a temporary file in the same directory,
/// which is fsynced, renamed over the old one (rename(2) is atomic within a file system), and then the
/// directory is fsynced so that the rename itself is on disk.
/// </summary>
public static partial class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> content, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        string temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = mode;
            }
            using (var stream = new FileStream(temporary, options))
            {
                if (!OperatingSystem.IsWindows())
                {
                    // Exactly this mode: the one given at creation is narrowed by the umask (the unit's UMask=0077).
                    File.SetUnixFileMode(stream.SafeFileHandle, mode);
                }
                stream.Write(content);
                // fsync(2): the data must be on disk before the rename makes it the file.
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // What went wrong first is the news; a leftover is removed at the next load.
            }
            throw;
        }
        SyncDirectory(directory);
    }

    /// <summary>Removes temporary files a killed writer left behind.</summary>
    public static void RemoveLeftovers(string path)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        foreach (string leftover in Directory.EnumerateFiles(directory, $".{Path.GetFileName(path)}.*.tmp"))
        {
            File.Delete(leftover);
        }
    }

    /// <summary>fsync(2) on the directory: .NET has no API for it, since a directory cannot be opened as a FileStream.</summary>
    public static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        // O_RDONLY opens a directory; O_DIRECTORY is left out, as its value differs between x86-64 and arm64.
        int fd = Open(directory, ReadOnly | CloseOnExec);
        if (fd < 0)
        {
            throw new IOException($"cannot open {directory} to sync it: {Marshal.GetLastPInvokeErrorMessage()}");
        }
        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"cannot sync {directory}: {Marshal.GetLastPInvokeErrorMessage()}");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    private const int ReadOnly = 0;
    private const int CloseOnExec = 0x80000; // O_CLOEXEC, the same on x86-64 and arm64

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
