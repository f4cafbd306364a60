namespace EdgeRelay.Appliance.Tests.Systemd;

/// <summary>
/// A clock that moves only when a test says so, with timers that fire on <see cref="Advance"/>, on the
/// test's thread, in due order. Just what the watchdog uses: CreateTimer with a due time and a period.
/// </summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    private readonly List<ManualTimer> _timers = [];
    // Not zero, so that nothing can pass by assuming the clock starts at zero.
    private long _now = 123_456_789;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _now;

    public override DateTimeOffset GetUtcNow() => new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddTicks(_now);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        _timers.Add(timer);
        return timer;
    }

    public void Advance(TimeSpan delta)
    {
        long end = _now + delta.Ticks;
        while (true)
        {
            ManualTimer? next = _timers.Where(t => t.DueAt is { } due && due <= end).MinBy(t => t.DueAt);
            if (next is null)
            {
                break;
            }
            _now = next.DueAt!.Value;
            next.Fire();
        }
        _now = end;
    }

    private sealed class ManualTimer(ManualTimeProvider clock, TimerCallback callback, object? state) : ITimer
    {
        private long _period;

        public long? DueAt { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : clock._now + dueTime.Ticks;
            _period = period == Timeout.InfiniteTimeSpan ? 0 : period.Ticks;
            return true;
        }

        public void Fire()
        {
            DueAt = _period > 0 ? DueAt + _period : null;
            callback(state);
        }

        public void Dispose() => DueAt = null;

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
