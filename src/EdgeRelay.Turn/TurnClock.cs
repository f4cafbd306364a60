namespace EdgeRelay.Turn;

/// <summary>
/// The core's view of time, from an injected <see cref="TimeProvider"/>: a monotonic millisecond count
/// for every lifetime (allocations, permissions, channels, nonces), so that a step of the wall clock
/// cuts nothing short; and the wall clock only where the protocol carries wall time (TURN REST expiry).
/// </summary>
public sealed class TurnClock
{
    private readonly TimeProvider _time;
    private readonly long _start;

    public TurnClock(TimeProvider time)
    {
        _time = time;
        _start = time.GetTimestamp();
    }

    public TimeProvider TimeProvider => _time;

    /// <summary>Milliseconds since this clock was made, never going backwards.</summary>
    public long NowMs => (long)_time.GetElapsedTime(_start).TotalMilliseconds;

    public DateTimeOffset UtcNow => _time.GetUtcNow();
}
