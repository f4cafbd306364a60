using System.Globalization;
using EdgeRelay.Appliance.Status;
using EdgeRelay.Turn.Auth;
using Microsoft.Extensions.Logging;

namespace EdgeRelay.Appliance.Clock;

/// <summary>
/// Whether the box's clock can be trusted, and the best time it has. A Raspberry Pi has no battery-backed
/// clock: after a power cut it runs on the time it last saved until NTP answers. Two witnesses: the kernel's
/// synchronisation state (<see cref="IClockStateSource"/>, polled), and the Date header of the cloud
/// endpoint's responses (RFC 9110 §6.6.1), kept as a point on the monotonic clock so that a later step of the
/// local clock does not falsify it. The clock is not trusted (D11) while the kernel says it is not
/// synchronised (unless <see cref="RequireSynchronisation"/> is off), while the cloud's Date differs by more
/// than <see cref="PlausibleOffset"/>, or while the cloud's TLS certificate is refused for a validity period
/// that this clock puts it outside of. As <see cref="IWallClock"/> it gives the TURN core the best time: the
/// cloud's, carried forward on the monotonic clock, when the kernel is not synchronised and the cloud answered.
/// </summary>
public sealed class ClockMonitor : IWallClock, IDisposable
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(30);

    /// <summary>A Date header this far from the local clock means the local clock is wrong (or the cloud's, which is as bad).</summary>
    public static readonly TimeSpan PlausibleOffset = TimeSpan.FromMinutes(5);

    private readonly IClockStateSource _source;
    private readonly StatusModel _model;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Lock _updateGate = new();
    private ITimer? _timer;
    private KernelClockReading _kernel = new(ClockSynchronisation.Unknown, null, "adjtimex", "not read yet");
    private DateTimeOffset? _checkedAt;
    private (DateTimeOffset ServerDate, long Timestamp)? _cloudDate;
    private bool _tlsBlamed;
    private bool _requireSynchronisation = true;
    private bool? _lastRaised;
    private ClockStatus _status;

    public ClockMonitor(IClockStateSource source, StatusModel model, TimeProvider time, ILogger logger)
    {
        _source = source;
        _model = model;
        _time = time;
        _logger = logger;
        _status = Derive();
    }

    /// <summary>
    /// time.requireSynchronisation: when off, a kernel clock that no NTP client disciplines is not a reason by
    /// itself (a virtual machine whose hypervisor keeps the time); the cloud's Date is still checked.
    /// </summary>
    public bool RequireSynchronisation
    {
        get { lock (_gate) return _requireSynchronisation; }
        set
        {
            lock (_gate)
            {
                _requireSynchronisation = value;
            }
            Update();
        }
    }

    public ClockStatus Status
    {
        get { lock (_gate) return _status; }
    }

    /// <summary>Reads the kernel now (so that the first verdict already knows the clock), then every <see cref="PollInterval"/>.</summary>
    public void Start()
    {
        Poll();
        _timer = _time.CreateTimer(static state => ((ClockMonitor)state!).Poll(), this, PollInterval, PollInterval);
    }

    /// <summary>One reading of the kernel's state (the timer calls it; tests may too).</summary>
    public void Poll()
    {
        KernelClockReading reading = _source.Read();
        lock (_gate)
        {
            _kernel = reading;
            _checkedAt = _time.GetUtcNow();
            if (reading.State == ClockSynchronisation.Synchronised)
            {
                // NTP has set the clock since: a certificate it refused is judged afresh at the next poll.
                _tlsBlamed = false;
            }
        }
        Update();
    }

    /// <summary>
    /// A response from the cloud endpoint came with this Date header (whole seconds), just now. A response
    /// means TLS worked, so an earlier certificate refusal is no longer held against the clock.
    /// </summary>
    public void ReportCloudDate(DateTimeOffset serverDate)
    {
        lock (_gate)
        {
            // The header has whole seconds and was sent before it arrived: half a second is the best guess of what it truncated.
            _cloudDate = (serverDate.AddMilliseconds(500), _time.GetTimestamp());
            _tlsBlamed = false;
        }
        Update();
    }

    /// <summary>
    /// The cloud's TLS certificate was refused as not valid at this box's time (NotTimeValid in its chain).
    /// Returns what to say instead of "cloud unreachable" when the clock is the likelier culprit, or null
    /// when the clock is trusted (the certificate really is out of date, or not yet valid).
    /// </summary>
    public string? ExplainCertificateTimeFailure(string host, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        string? explanation;
        lock (_gate)
        {
            DateTimeOffset local = _time.GetUtcNow();
            double? offset = OffsetSeconds(local);
            bool implausible = offset is double o && Math.Abs(o) > PlausibleOffset.TotalSeconds;
            bool unsynchronised = _kernel.State == ClockSynchronisation.Unsynchronised && _requireSynchronisation;
            // With nothing to go on, a certificate that is not yet valid points at the clock (a box that booted
            // into the past); one that expired is more likely just that.
            bool blame = unsynchronised || implausible
                || (_kernel.State != ClockSynchronisation.Synchronised && offset is null && local < notBefore);
            if (!blame)
            {
                return null;
            }
            string how = local < notBefore
                ? $"at least {Describe(notBefore - local)} behind"
                : local > notAfter ? $"at least {Describe(local - notAfter)} ahead" : "wrong";
            explanation = $"the clock is wrong: {host}'s TLS certificate is valid from {notBefore:u} to {notAfter:u}, and this box's clock says {local:u}, " +
                $"{how} ({WhyDoubted(offset)}); let the box reach NTP (UDP 123)";
            _tlsBlamed = true;
        }
        Update();
        return explanation;
    }

    /// <summary>
    /// The best time the box has, for TURN REST expiry (draft-uberti-behave-turn-rest-00 §2.2). Unsynchronised,
    /// the cloud's time is taken only when it is later than the local clock: after a power cut the local clock
    /// restarts from the last time saved, a lower bound of the real time, and whoever could forge a Date (a
    /// leaked, expired certificate accepted by a clock in the past) must not move expiry backwards and so revive
    /// expired credentials.
    /// </summary>
    public WallTime Now
    {
        get
        {
            lock (_gate)
            {
                DateTimeOffset local = _time.GetUtcNow();
                if (UsesCloudTime(local) && CloudNow() is DateTimeOffset cloud)
                {
                    return new WallTime(cloud, _status.Trusted, "the cloud's Date header");
                }
                return new WallTime(local, _status.Trusted, LocalSource());
            }
        }
    }

    private bool UsesCloudTime(DateTimeOffset local) =>
        _kernel.State != ClockSynchronisation.Synchronised && CloudNow() is DateTimeOffset cloud && cloud > local;

    private DateTimeOffset? CloudNow() =>
        _cloudDate is var (serverDate, timestamp) ? serverDate + _time.GetElapsedTime(timestamp) : null;

    private double? OffsetSeconds(DateTimeOffset local) =>
        CloudNow() is DateTimeOffset cloud ? Math.Round((cloud - local).TotalSeconds) : null;

    private string LocalSource() => _kernel.State switch
    {
        ClockSynchronisation.Synchronised => "the local clock (synchronised)",
        ClockSynchronisation.Unsynchronised => "the local clock (not synchronised)",
        _ => "the local clock (state unknown)",
    };

    private string WhyDoubted(double? offset)
    {
        var parts = new List<string>();
        parts.Add(_kernel.State switch
        {
            ClockSynchronisation.Synchronised => "the kernel says it is synchronised",
            ClockSynchronisation.Unsynchronised => "the kernel says it is not synchronised",
            _ => $"its synchronisation is unknown: {_kernel.Problem}",
        });
        parts.Add(offset is double o
            ? $"the cloud's Date header differed by {o.ToString("0", CultureInfo.InvariantCulture)} s"
            : "no Date header from the cloud yet");
        return string.Join("; ", parts);
    }

    private static string Describe(TimeSpan span) =>
        span.TotalDays >= 2 ? $"{Math.Floor(span.TotalDays).ToString(CultureInfo.InvariantCulture)} days"
        : span.TotalHours >= 2 ? $"{Math.Floor(span.TotalHours).ToString(CultureInfo.InvariantCulture)} hours"
        : $"{Math.Ceiling(span.TotalMinutes).ToString(CultureInfo.InvariantCulture)} minutes";

    private ClockStatus Derive()
    {
        DateTimeOffset local = _time.GetUtcNow();
        double? offset = OffsetSeconds(local);
        bool implausible = offset is double o && Math.Abs(o) > PlausibleOffset.TotalSeconds;
        bool unsynchronised = _kernel.State == ClockSynchronisation.Unsynchronised;
        // Without requireSynchronisation the operator vouches for the clock (a hypervisor keeps it) unless the cloud says otherwise.
        bool kernelVouches = _kernel.State == ClockSynchronisation.Synchronised || !_requireSynchronisation;
        bool trusted = kernelVouches && !implausible && !_tlsBlamed
            || (_kernel.State == ClockSynchronisation.Unknown && offset is not null && !implausible && !_tlsBlamed);
        string detail =
            _tlsBlamed ? "the cloud's TLS certificate is outside its validity period by this clock, which is in doubt: " + WhyDoubted(offset)
            : implausible ? $"the cloud's Date header differs from this clock by {offset!.Value.ToString("0", CultureInfo.InvariantCulture)} s (more than {PlausibleOffset.TotalMinutes:0} min): " +
                (unsynchronised || _kernel.State == ClockSynchronisation.Unknown ? "the local clock is wrong; TURN REST credentials are judged by the cloud's time" : "the kernel says it is synchronised: check its NTP servers (time.ntpServers)")
            : unsynchronised && _requireSynchronisation ? "not synchronised: no NTP server has answered since boot (let the box reach UDP 123, or set time.ntpServers)" +
                (offset is double small ? $"; the cloud's Date header agrees within {Math.Abs(small).ToString("0", CultureInfo.InvariantCulture)} s" : "")
            : _kernel.State == ClockSynchronisation.Unknown ? $"synchronisation unknown: {_kernel.Problem}" +
                (offset is double near ? $"; the cloud's Date header agrees within {Math.Abs(near).ToString("0", CultureInfo.InvariantCulture)} s" : "")
            : unsynchronised ? "not synchronised, not required (time.requireSynchronisation is off)"
            : "synchronised" + (_kernel.MaxErrorSeconds is double e ? $", maximum error {e.ToString("0.###", CultureInfo.InvariantCulture)} s" : "");
        string timeSource = UsesCloudTime(local) ? "cloud-date" : "local";
        bool inDoubt = (unsynchronised && _requireSynchronisation) || implausible || _tlsBlamed;
        return new ClockStatus(_kernel.State, trusted, _kernel.MaxErrorSeconds, offset, _kernel.Source, timeSource, detail, _tlsBlamed, _checkedAt, inDoubt);
    }

    /// <summary>D11 while the clock is known to be in doubt; a kernel state that cannot be read alone is not a reason.</summary>
    private void Update()
    {
        // One update at a time (the timer's poll and the puller's Date can meet): the model and the log then
        // follow the order of the verdicts. The model is told outside _gate, which Now takes on the request path.
        lock (_updateGate)
        {
            ClockStatus status;
            bool raise;
            bool? previous;
            lock (_gate)
            {
                status = Derive();
                _status = status;
                raise = status.InDoubt;
                previous = _lastRaised;
                _lastRaised = raise;
            }
            _model.Set(StatusReasons.ClockUnsynchronised, raise);
            if (raise && previous != true)
            {
                ClockLog.NotTrusted(_logger, status.Detail, status.TimeSource == "cloud-date" ? "the cloud's Date header" : "the local clock");
            }
            else if (!raise && previous == true)
            {
                ClockLog.Trusted(_logger, status.Detail);
            }
        }
    }

    public void Dispose() => _timer?.Dispose();
}

internal static partial class ClockLog
{
    [LoggerMessage(EventId = 60, Level = LogLevel.Warning,
        Message = "D11-clock-unsynchronised: the clock is in doubt: {Detail}. TURN REST credentials are judged by {TimeSource}")]
    public static partial void NotTrusted(ILogger logger, string detail, string timeSource);

    [LoggerMessage(EventId = 61, Level = LogLevel.Information, Message = "the clock is trusted again: {Detail}")]
    public static partial void Trusted(ILogger logger, string detail);
}
