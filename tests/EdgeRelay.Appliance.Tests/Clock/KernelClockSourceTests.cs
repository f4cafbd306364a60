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
