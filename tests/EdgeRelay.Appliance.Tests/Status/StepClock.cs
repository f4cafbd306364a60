namespace EdgeRelay.Appliance.Tests.Status;

/// <summary>A clock that moves only when the test says so (the status model reads time, it sets no timers).</summary>
internal sealed class StepClock : TimeProvider
{
    private DateTimeOffset _now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => _now;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _now.UtcTicks;

    public void Advance(TimeSpan by) => _now += by;
}
