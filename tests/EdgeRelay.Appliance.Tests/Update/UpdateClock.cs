using System.Diagnostics;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>
/// A clock that moves only when a test says so, safe to use from the updater's own tasks while the test
/// moves it: the updater waits (<c>Task.Delay(…, TimeProvider)</c>) on its threads, the test advances on
/// its own. Timers fire outside the lock, in due order, with the clock set to their due time.
/// </summary>
internal sealed class UpdateClock : TimeProvider
{
    public static readonly DateTimeOffset Epoch = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly Lock _gate = new();
    private readonly List<ManualTimer> _timers = [];
    // Not zero, so that nothing passes by assuming that timestamps start at zero.
    private long _ticks = 987_654_321;
    private readonly long _start;

    public UpdateClock() => _start = _ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp()
    {
        lock (_gate)
        {
            return _ticks;
        }
    }

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return Epoch.AddTicks(_ticks - _start);
        }
    }

    /// <summary>Timers that are waiting to fire (an updater in a Task.Delay has one).</summary>
    public int PendingTimers
    {
        get
        {
            lock (_gate)
            {
                return _timers.Count(t => t.DueAt is not null);
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        lock (_gate)
        {
            _timers.Add(timer);
            timer.ChangeLocked(dueTime, period);
        }
        return timer;
    }

    public void Advance(TimeSpan by)
    {
        long end;
        lock (_gate)
        {
            end = _ticks + by.Ticks;
        }
        while (true)
        {
            ManualTimer? next;
            lock (_gate)
            {
                next = _timers.Where(t => t.DueAt is { } due && due <= end).MinBy(t => t.DueAt);
                if (next is null)
                {
                    _ticks = Math.Max(_ticks, end);
                    return;
                }
                _ticks = Math.Max(_ticks, next.DueAt!.Value);
                next.Rearm();
            }
            next.Fire();
        }
    }

    /// <summary>Moves the clock to the earliest pending timer's due time (and fires it); false when none is pending.</summary>
    public bool AdvanceToNextTimer()
    {
        long? due;
        lock (_gate)
        {
            due = _timers.Where(t => t.DueAt is not null).Min(t => t.DueAt);
        }
        if (due is null)
        {
            return false;
        }
        Advance(TimeSpan.FromTicks(Math.Max(0, due.Value - GetTimestamp())));
        return true;
    }

    /// <summary>
    /// Moves the clock from timer to timer, as the code under test sets them, until <paramref name="done"/>:
    /// waits (in real time, boundedly) for the code to reach its next wait before each step. Returns false when
    /// <paramref name="maxSteps"/> or <paramref name="realTimeout"/> ran out first; nothing is judged by the real clock.
    /// </summary>
    public async Task<bool> AdvanceUntilAsync(Func<bool> done, int maxSteps = 1000, TimeSpan? realTimeout = null)
    {
        TimeSpan limit = realTimeout ?? TimeSpan.FromSeconds(60);
        var waited = Stopwatch.StartNew();
        for (int step = 0; step <= maxSteps; step++)
        {
            while (!done() && PendingTimers == 0)
            {
                if (waited.Elapsed > limit)
                {
                    return false;
                }
                await Task.Delay(5);
            }
            if (done())
            {
                return true;
            }
            AdvanceToNextTimer();
        }
        return done();
    }

    private sealed class ManualTimer(UpdateClock clock, TimerCallback callback, object? state) : ITimer
    {
        private long _period;

        public long? DueAt { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._gate)
            {
                ChangeLocked(dueTime, period);
            }
            return true;
        }

        public void ChangeLocked(TimeSpan dueTime, TimeSpan period)
        {
            DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : clock._ticks + Math.Max(0, dueTime.Ticks);
            _period = period == Timeout.InfiniteTimeSpan || period <= TimeSpan.Zero ? 0 : period.Ticks;
        }

        /// <summary>Under the clock's lock: the next due time, before the callback runs outside it.</summary>
        public void Rearm() => DueAt = _period > 0 ? DueAt + _period : null;

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (clock._gate)
            {
                DueAt = null;
                clock._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
