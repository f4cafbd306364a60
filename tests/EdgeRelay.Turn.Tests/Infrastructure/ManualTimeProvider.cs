namespace EdgeRelay.Turn.Tests.Infrastructure;

/// <summary>
/// A clock that moves only when a test says so. The monotonic timestamp and the wall clock advance
/// together; <see cref="StepWallClock"/> moves the wall clock alone, as NTP or an operator might.
/// </summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private long _timestamp;
    private DateTimeOffset _utcNow;

    public ManualTimeProvider(DateTimeOffset? utcNow = null)
    {
        _utcNow = utcNow ?? new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);
        // Not zero, so that nothing can pass by assuming the clock starts at zero.
        _timestamp = 123_456_789;
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _timestamp;

    public override DateTimeOffset GetUtcNow() => _utcNow;

    public void Advance(TimeSpan delta)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delta, TimeSpan.Zero);
        _timestamp += delta.Ticks;
        _utcNow += delta;
    }

    public void AdvanceSeconds(double seconds) => Advance(TimeSpan.FromSeconds(seconds));

    public void AdvanceMilliseconds(long milliseconds) => Advance(TimeSpan.FromMilliseconds(milliseconds));

    /// <summary>Moves the wall clock only; the monotonic timestamp stays where it is.</summary>
    public void StepWallClock(TimeSpan delta) => _utcNow += delta;
}
