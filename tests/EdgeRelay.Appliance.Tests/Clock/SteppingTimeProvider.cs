namespace EdgeRelay.Appliance.Tests.Clock;

/// <summary>
/// A clock whose wall time can step while its monotonic timestamp does not, as when NTP (or a power cut's
/// stale clock) moves a Raspberry Pi's time. Timers are not run: the tests call Poll themselves.
/// </summary>
internal sealed class SteppingTimeProvider(DateTimeOffset utcNow) : TimeProvider
{
    private long _timestamp = 987_654_321;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _timestamp;

    public override DateTimeOffset GetUtcNow() => utcNow;

    public void Advance(TimeSpan by)
    {
        _timestamp += by.Ticks;
        utcNow += by;
    }

    public void StepWallClock(TimeSpan by) => utcNow += by;
}

/// <summary>The real clock, shifted: a box whose clock is off by <paramref name="offset"/>, for tests against a real server's Date header.</summary>
internal sealed class OffsetTimeProvider(TimeSpan offset) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;
}

/// <summary>A kernel whose answer the test sets.</summary>
internal sealed class FakeClockStateSource(EdgeRelay.Appliance.Clock.KernelClockReading reading) : EdgeRelay.Appliance.Clock.IClockStateSource
{
    public EdgeRelay.Appliance.Clock.KernelClockReading Reading { get; set; } = reading;

    public EdgeRelay.Appliance.Clock.KernelClockReading Read() => Reading;
}
