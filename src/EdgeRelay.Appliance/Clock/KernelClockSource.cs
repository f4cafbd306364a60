using System.Runtime.InteropServices;

namespace EdgeRelay.Appliance.Clock;

/// <summary>
/// The kernel's view of the system clock, read with adjtimex(2) in read-only mode (modes = 0: anyone may,
/// no capability needed): STA_UNSYNC in the status says whether an NTP client disciplines the clock, and
/// maxerror how far off it may be. Under image/systemd/edgerelay.service the call is refused (EPERM): the
/// unit keeps ProtectClock=yes, whose seccomp filter denies the whole @clock group, adjtimex included,
/// since seccomp cannot tell a read from a write by the struct's content. Then the flag file of
/// systemd-timesyncd (the NTP client of the image and the .deb) stands in: it touches
/// /run/systemd/timesync/synchronized at every synchronisation (systemd 239 and later).
/// </summary>
public sealed partial class KernelClockSource : IClockStateSource
{
    /// <summary>adjtimex(2): "the clock is not synchronised" in struct timex's status.</summary>
    internal const int StaUnsync = 0x0040;

    /// <summary>errno(3): EPERM, the seccomp filter's answer under the systemd unit.</summary>
    private const int EPerm = 1;

    private readonly string _timesyncDirectory;

    /// <param name="timesyncDirectory">Where systemd-timesyncd keeps its flag (tests point it elsewhere).</param>
    public KernelClockSource(string timesyncDirectory = "/run/systemd/timesync")
    {
        _timesyncDirectory = timesyncDirectory;
    }

    public KernelClockReading Read()
    {
        if (!OperatingSystem.IsLinux() || IntPtr.Size != 8)
        {
            // Timex below is the 64-bit layout: the relay ships for linux-x64 and linux-arm64 only.
            return new KernelClockReading(ClockSynchronisation.Unknown, null, "adjtimex", "adjtimex(2) is read on 64-bit Linux only");
        }
        var timex = default(Timex); // modes = 0: read only
        int result;
        int errno;
        try
        {
            result = Adjtimex(ref timex);
            errno = Marshal.GetLastPInvokeError();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return new KernelClockReading(ClockSynchronisation.Unknown, null, "adjtimex", $"adjtimex(2) cannot be called: {e.Message}");
        }
        if (result >= 0)
        {
            // maxerror is in microseconds; the kernel sets STA_UNSYNC itself once it grows past 16 s.
            double maxError = timex.MaxError / 1e6;
            return (timex.Status & StaUnsync) != 0
                ? new KernelClockReading(ClockSynchronisation.Unsynchronised, maxError, "adjtimex")
                : new KernelClockReading(ClockSynchronisation.Synchronised, maxError, "adjtimex");
        }
        return ReadAfterFailure(errno);
    }

    /// <summary>What is known when adjtimex(2) failed with <paramref name="errno"/>.</summary>
    internal KernelClockReading ReadAfterFailure(int errno)
    {
        string why = errno == EPerm
            ? "adjtimex(2) is refused (EPERM: a seccomp filter such as systemd's ProtectClock=yes)"
            : $"adjtimex(2) failed: {Marshal.GetPInvokeErrorMessage(errno)}";
        return ReadTimesyncFlag(why);
    }

    /// <summary>
    /// systemd-timesyncd's flag: present once it synchronised the clock since boot (/run is a tmpfs). Its
    /// directory without the flag means timesyncd runs and has not reached a server yet; no directory
    /// means another NTP client, or none, and then nothing can be said.
    /// </summary>
    private KernelClockReading ReadTimesyncFlag(string why)
    {
        try
        {
            if (File.Exists(Path.Combine(_timesyncDirectory, "synchronized")))
            {
                return new KernelClockReading(ClockSynchronisation.Synchronised, null, "systemd-timesyncd");
            }
            if (Directory.Exists(_timesyncDirectory))
            {
                return new KernelClockReading(ClockSynchronisation.Unsynchronised, null, "systemd-timesyncd");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new KernelClockReading(ClockSynchronisation.Unknown, null, "adjtimex", $"{why}, and {_timesyncDirectory} cannot be read: {e.Message}");
        }
        return new KernelClockReading(ClockSynchronisation.Unknown, null, "adjtimex",
            $"{why}, and systemd-timesyncd does not run ({_timesyncDirectory} does not exist)");
    }

    /// <summary>
    /// struct timex of glibc on 64-bit Linux, the same on x86-64 and arm64 (checked with offsetof on both:
    /// 208 bytes; modes at 0, maxerror at 24, esterror at 32, status at 40). Only the fields read are named;
    /// the rest is room the kernel writes into.
    /// </summary>
    [StructLayout(LayoutKind.Explicit, Size = 208)]
    internal struct Timex
    {
        [FieldOffset(0)] public uint Modes;
        [FieldOffset(24)] public long MaxError;
        [FieldOffset(32)] public long EstError;
        [FieldOffset(40)] public int Status;
    }

    [LibraryImport("libc", EntryPoint = "adjtimex", SetLastError = true)]
    internal static partial int Adjtimex(ref Timex timex);
}
