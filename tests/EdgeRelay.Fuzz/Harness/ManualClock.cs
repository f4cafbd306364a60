namespace EdgeRelay.Fuzz.Harness;

/// <summary>Time that moves only when the script says so: every run of an input sees the same clock.</summary>
public sealed class ManualClock : TimeProvider
{
    private long _timestamp = 123_456_789;
    private DateTimeOffset _utcNow = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _timestamp;

    public override DateTimeOffset GetUtcNow() => _utcNow;

    public void Advance(TimeSpan delta)
    {
        _timestamp += delta.Ticks;
        _utcNow += delta;
    }
}
