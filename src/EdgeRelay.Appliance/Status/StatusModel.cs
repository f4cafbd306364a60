namespace EdgeRelay.Appliance.Status;

/// <summary>
/// The one place that derives the box's state. Whoever knows something reports it here (the relay
/// observer: listeners, traffic, quota, certificates; later the configuration puller and the clock
/// check): a reason is raised or cleared, a phase is set, traffic is reported. The verdict follows a
/// fixed order: any fault wins (the lowest blink code is shown, as the most basic problem), then
/// starting, then any degraded reason, then relaying or idle.
/// </summary>
public sealed class StatusModel
{
    /// <summary>Traffic reported within this span counts as "relaying".</summary>
    public static readonly TimeSpan TrafficWindow = TimeSpan.FromSeconds(5);

    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly HashSet<StatusReason> _reasons = [];
    private bool _starting = true;
    private long _lastTrafficTimestamp = long.MinValue;
    private ApplianceStatus _current;

    public StatusModel(TimeProvider time)
    {
        _time = time;
        _current = new ApplianceStatus(Health.Starting, [], new LedSignal(LedMode.Starting), time.GetUtcNow());
    }

    /// <summary>Raised after every change of the verdict (not on every report), outside the model's lock.</summary>
    public event Action<ApplianceStatus>? Changed;

    public ApplianceStatus Current
    {
        get
        {
            // Traffic ages out without a report: re-derive on read.
            Update();
            lock (_gate)
            {
                return _current;
            }
        }
    }

    /// <summary>Starting (at boot, or while a configuration is applied) or ready.</summary>
    public void SetStarting(bool starting)
    {
        lock (_gate)
        {
            _starting = starting;
        }
        Update();
    }

    public void Raise(StatusReason reason) => Set(reason, true);

    public void Clear(StatusReason reason) => Set(reason, false);

    public void Set(StatusReason reason, bool active)
    {
        lock (_gate)
        {
            if (active ? !_reasons.Add(reason) : !_reasons.Remove(reason))
            {
                return;
            }
        }
        Update();
    }

    /// <summary>Relayed traffic was seen (the observer calls this when the relayed packet count grew).</summary>
    public void ReportTraffic()
    {
        lock (_gate)
        {
            _lastTrafficTimestamp = _time.GetTimestamp();
        }
        Update();
    }

    private void Update()
    {
        ApplianceStatus? changed = null;
        lock (_gate)
        {
            var reasons = _reasons.OrderBy(r => r.Severity == Severity.Fault ? 0 : 1).ThenBy(r => r.BlinkCode).ThenBy(r => r.Code, StringComparer.Ordinal).ToList();
            StatusReason? fault = reasons.FirstOrDefault(r => r.Severity == Severity.Fault);
            bool relaying = _lastTrafficTimestamp != long.MinValue && _time.GetElapsedTime(_lastTrafficTimestamp) < TrafficWindow;
            (Health health, LedSignal led) = fault is not null ? (Health.Fault, new LedSignal(LedMode.Fault, fault.BlinkCode))
                : _starting ? (Health.Starting, new LedSignal(LedMode.Starting))
                // Amber blinking, as while starting: "busy, do not unplug" (an update is downloaded, installed or proved).
                : reasons.Contains(StatusReasons.Updating) ? (Health.Degraded, new LedSignal(LedMode.Starting))
                : reasons.Contains(StatusReasons.ClockUnsynchronised) ? (Health.Degraded, new LedSignal(LedMode.DegradedClock))
                : reasons.Count > 0 ? (Health.Degraded, new LedSignal(LedMode.Degraded))
                : relaying ? (Health.Relaying, new LedSignal(LedMode.Relaying))
                : (Health.HealthyIdle, new LedSignal(LedMode.Healthy));
            if (health != _current.Health || led != _current.Led || !reasons.SequenceEqual(_current.Reasons))
            {
                _current = new ApplianceStatus(health, reasons, led, _time.GetUtcNow());
                changed = _current;
            }
        }
        if (changed is not null)
        {
            Changed?.Invoke(changed);
        }
    }
}
