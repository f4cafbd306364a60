using EdgeRelay.Appliance.Status;

namespace EdgeRelay.Appliance.Leds;

/// <summary>
/// Plays the pattern of the current <see cref="LedSignal"/> on a driver. One timer from the
/// <see cref="TimeProvider"/> wakes it at the next step, flicker end or identify end, so a fake
/// clock drives it deterministically. Steps are timed from when the previous one was due, not from
/// when the timer ran, so a late wake-up does not stretch the pattern.
/// </summary>
public sealed class LedAnimator : IDisposable
{
    private readonly ILedDriver _driver;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly Lock _lock = new();

    private LedSignal _signal = new(LedMode.Off);
    private LedPattern _pattern;
    private int _step;
    private long? _stepEndsAt;
    private long? _identifyEndsAt;
    private long? _flickerEndsAt;
    private long? _lastFlickerAt;
    private LedLights _lit; // drivers start with every LED off
    private LedRole? _hardwareBlinking;
    private bool _disposed;

    public LedAnimator(ILedDriver driver, TimeProvider time)
    {
        _driver = driver;
        _time = time;
        _pattern = LedPatterns.For(_signal, driver.Roles);
        _timer = time.CreateTimer(static state => ((LedAnimator)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The signal shown, or shown again once an identify ends.</summary>
    public LedSignal Signal
    {
        get { lock (_lock) return _signal; }
    }

    public bool IsIdentifying
    {
        get { lock (_lock) return _identifyEndsAt is not null; }
    }

    /// <summary>
    /// Shows a signal, restarting its pattern from the first step at once. <see cref="LedMode.Identify"/>
    /// chases for <see cref="LedPatterns.IdentifyDuration"/> and then returns to the signal before it;
    /// a signal that arrives during the chase is what it returns to, so the technician still sees the
    /// whole chase.
    /// </summary>
    public void Show(LedSignal signal)
    {
        lock (_lock)
        {
            if (_disposed) return;
            long now = _time.GetTimestamp();
            if (signal.Mode == LedMode.Identify)
            {
                _identifyEndsAt = now + ToTicks(LedPatterns.IdentifyDuration);
                Start(LedPatterns.For(signal, _driver.Roles), now);
                return;
            }

            if (signal == _signal) return;
            _signal = signal;
            if (_identifyEndsAt is null)
                Start(LedPatterns.For(signal, _driver.Roles), now);
        }
    }

    /// <summary>The relay moved traffic: in <see cref="LedMode.Relaying"/>, lit LEDs go dark for a moment.</summary>
    public void ReportTraffic()
    {
        lock (_lock)
        {
            if (_disposed || !_pattern.Flickers || _flickerEndsAt is not null) return;
            long now = _time.GetTimestamp();
            if (_lastFlickerAt is long last && now - last < ToTicks(LedPatterns.FlickerMinInterval)) return;
            _lastFlickerAt = now;
            _flickerEndsAt = now + ToTicks(LedPatterns.FlickerOff);
            Render();
            Schedule(now);
        }
    }

    private void Start(LedPattern pattern, long now)
    {
        _pattern = pattern;
        _step = 0;
        _flickerEndsAt = null;
        _lastFlickerAt = null;
        LedStep first = pattern.Steps[0];
        _stepEndsAt = first.IsHold ? null : now + ToTicks(first.Duration);

        if (_hardwareBlinking is LedRole blinking)
        {
            // Take the LED back from the kernel; Render then writes it as the pattern wants.
            _hardwareBlinking = null;
            _driver.Set(blinking, false);
            _lit &= ~blinking.ToLights();
        }

        if (pattern.HardwareBlink is LedBlink blink && _driver.Roles.Contains(blink.Role))
        {
            foreach (LedRole role in _driver.Roles)
                if (role != blink.Role) Write(role, false);
            if (_driver.TryBlink(blink.Role, blink.On, blink.Off))
            {
                _hardwareBlinking = blink.Role;
                _lit &= ~blink.Role.ToLights();
                _stepEndsAt = null; // nothing left for the process to do until the signal changes
            }
        }

        Render();
        Schedule(now);
    }

    private void OnTimer()
    {
        lock (_lock)
        {
            if (_disposed) return;
            long now = _time.GetTimestamp();

            if (_identifyEndsAt is long identifyEnd && now >= identifyEnd)
            {
                _identifyEndsAt = null;
                Start(LedPatterns.For(_signal, _driver.Roles), now);
                return;
            }

            if (_flickerEndsAt is long flickerEnd && now >= flickerEnd)
                _flickerEndsAt = null;

            while (_stepEndsAt is long stepEnd && now >= stepEnd)
            {
                _step = (_step + 1) % _pattern.Steps.Count;
                LedStep step = _pattern.Steps[_step];
                // After a long stall (a suspended process), restart timing from now instead of replaying.
                long from = now - stepEnd > ToTicks(TimeSpan.FromSeconds(1)) ? now : stepEnd;
                _stepEndsAt = step.IsHold ? null : from + ToTicks(step.Duration);
            }

            Render();
            Schedule(now);
        }
    }

    private void Render()
    {
        LedLights wanted = _pattern.Steps[_step].Lights;
        if (_flickerEndsAt is not null)
            wanted = LedLights.None;
        // Darken before lighting, so a chase never shows two LEDs at once.
        foreach (bool on in (ReadOnlySpan<bool>)[false, true])
        {
            foreach (LedRole role in _driver.Roles)
            {
                if (role != _hardwareBlinking && wanted.Has(role) == on)
                    Write(role, on);
            }
        }
    }

    private void Write(LedRole role, bool on)
    {
        if (_lit.Has(role) == on) return;
        _driver.Set(role, on);
        _lit = on ? _lit | role.ToLights() : _lit & ~role.ToLights();
    }

    private void Schedule(long now)
    {
        long? next = Earliest(Earliest(_stepEndsAt, _flickerEndsAt), _identifyEndsAt);
        TimeSpan due = next is long at ? FromTicks(Math.Max(0, at - now)) : Timeout.InfiniteTimeSpan;
        _timer.Change(due, Timeout.InfiniteTimeSpan);
    }

    private static long? Earliest(long? a, long? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

    private long ToTicks(TimeSpan span) => (long)(span.Ticks * (double)_time.TimestampFrequency / TimeSpan.TicksPerSecond);

    private TimeSpan FromTicks(long timestampTicks) =>
        TimeSpan.FromTicks((long)Math.Ceiling(timestampTicks * (double)TimeSpan.TicksPerSecond / _time.TimestampFrequency));

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            _timer.Dispose();
        }
    }
}
