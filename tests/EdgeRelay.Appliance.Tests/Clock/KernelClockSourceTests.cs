using EdgeRelay.Appliance.Clock;

namespace EdgeRelay.Appliance.Tests.Clock;

public sealed class KernelClockSourceTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-timesync-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Adjtimex_reads_the_kernel_state_with_its_maximum_error()
    {
        // Outside systemd's ProtectClock=yes, a read-only adjtimex(2) needs no privilege.
        KernelClockReading reading = new KernelClockSource(Path.Combine(_directory, "none")).Read();

        Assert.Equal("adjtimex", reading.Source);
        Assert.NotEqual(ClockSynchronisation.Unknown, reading.State);
        Assert.NotNull(reading.MaxErrorSeconds);
        Assert.InRange(reading.MaxErrorSeconds!.Value, 0, 1e6);
    }

    /// <summary>
    /// The struct's status field is where the kernel puts it: adjtimex(2) returns TIME_ERROR (5) whenever
    /// STA_UNSYNC is set and only for a cause it can see in status, and only STA_* bits (below 0x10000) are set.
    /// </summary>
    [Fact]
    public void The_status_field_agrees_with_adjtimex_s_return_value()
    {
        const int TimeError = 5;
        var timex = default(KernelClockSource.Timex);
        int result = KernelClockSource.Adjtimex(ref timex);

        Assert.InRange(result, 0, TimeError);
        Assert.InRange(timex.Status, 0, 0xFFFF);
        Assert.True((timex.Status & KernelClockSource.StaUnsync) == 0 || result == TimeError, $"status 0x{timex.Status:x}, adjtimex returned {result}");
        // And TIME_ERROR only with one of its causes in status: STA_UNSYNC, STA_CLOCKERR or a PPS condition.
        const int TimeErrorCauses = 0x0040 | 0x1000 | 0x0100 | 0x0200 | 0x0400 | 0x0800 | 0x0002 | 0x0004;
        Assert.True(result != TimeError || (timex.Status & TimeErrorCauses) != 0, $"status 0x{timex.Status:x}, adjtimex returned {result}");
        Assert.Equal(0u, timex.Modes);
    }

    [Fact]
    public void Refused_adjtimex_falls_back_to_timesyncd_s_flag()
    {
        var source = new KernelClockSource(_directory);
        Assert.Equal(ClockSynchronisation.Unsynchronised, source.ReadAfterFailure(1).State);

        File.WriteAllText(Path.Combine(_directory, "synchronized"), "");
        KernelClockReading reading = source.ReadAfterFailure(1);

        Assert.Equal(ClockSynchronisation.Synchronised, reading.State);
        Assert.Equal("systemd-timesyncd", reading.Source);
    }

    [Fact]
    public void Refused_adjtimex_without_timesyncd_is_unknown_and_says_why()
    {
        KernelClockReading reading = new KernelClockSource(Path.Combine(_directory, "none")).ReadAfterFailure(1);

        Assert.Equal(ClockSynchronisation.Unknown, reading.State);
        Assert.Contains("EPERM", reading.Problem, StringComparison.Ordinal);
        Assert.Contains("does not exist", reading.Problem, StringComparison.Ordinal);
    }
}
