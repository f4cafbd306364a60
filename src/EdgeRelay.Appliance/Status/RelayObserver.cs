using EdgeRelay.Appliance.Clock;
using EdgeRelay.Net;

namespace EdgeRelay.Appliance.Status;

/// <summary>
/// Watches a running <see cref="RelayEngine"/> from outside, once a second, and reports to the
/// <see cref="StatusModel"/> what it sees: bound listeners, traffic, the allocation quota, the TLS
/// certificates' validity and whether the loops make progress. It reads counters only: it never takes
/// the relay's lock and never sits on its packet path.
/// </summary>
public sealed class RelayObserver : IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>A certificate closer than this to its end is "expiring".</summary>
    public static readonly TimeSpan CertificateWarning = TimeSpan.FromDays(14);

    /// <summary>Loops that have not turned for this long are stuck (they turn every 200 ms when idle).</summary>
    public static readonly TimeSpan StallAfter = TimeSpan.FromSeconds(10);

    private readonly RelayEngine _engine;
    private readonly StatusModel _model;
    private readonly TimeProvider _time;
    private ITimer? _timer;
    private long _lastPackets = -1;
    private long _lastBytes;
    private long _lastSampleTimestamp;
    private long[]? _lastProgress;
    private long _lastProgressTimestamp;

    private readonly Func<bool>? _awaitingConfiguration;
    private readonly ClockMonitor? _clock;

    /// <param name="awaitingConfiguration">
    /// True while the box has no listener because its configuration has not come yet (a bootstrap file with
    /// only a cloud section): that is "starting", not fault F1.
    /// </param>
    /// <param name="clock">
    /// The clock check: certificates are judged by the best time there is, and not at all while the clock is
    /// in doubt with nothing better than itself (a box that booted into 1970 says D11, not F3).
    /// </param>
    public RelayObserver(RelayEngine engine, StatusModel model, TimeProvider time, Func<bool>? awaitingConfiguration = null, ClockMonitor? clock = null)
    {
        _clock = clock;
        _engine = engine;
        _model = model;
        _time = time;
        _awaitingConfiguration = awaitingConfiguration;
        _lastProgressTimestamp = time.GetTimestamp();
    }

    /// <summary>Raised from a sample that saw relayed packets (the LEDs flicker with it).</summary>
    public event Action? TrafficSeen;

    /// <summary>Relayed packets (both directions) per second over the last sampling interval.</summary>
    public double PacketsPerSecond { get; private set; }

    /// <summary>Relayed payload bytes (both directions) per second over the last sampling interval.</summary>
    public double BytesPerSecond { get; private set; }

    public void Start() => _timer = _time.CreateTimer(_ => Sample(), null, TimeSpan.Zero, Interval);

    /// <summary>One look at the relay (the timer calls it; tests may too).</summary>
    public void Sample()
    {
        _model.Set(StatusReasons.NoListener,
            _engine.LocalEndPoints.Count + _engine.StreamEndPoints.Count == 0 && _awaitingConfiguration?.Invoke() != true);

        long packets = _engine.Server.Counters.PacketsToPeers + _engine.Server.Counters.PacketsFromPeers;
        long bytes = _engine.Server.Counters.BytesToPeers + _engine.Server.Counters.BytesFromPeers;
        long timestamp = _time.GetTimestamp();
        if (_lastPackets >= 0)
        {
            if (packets > _lastPackets)
            {
                _model.ReportTraffic();
                TrafficSeen?.Invoke();
            }
            double seconds = _time.GetElapsedTime(_lastSampleTimestamp, timestamp).TotalSeconds;
            PacketsPerSecond = seconds > 0 ? (packets - _lastPackets) / seconds : 0;
            BytesPerSecond = seconds > 0 ? (bytes - _lastBytes) / seconds : 0;
        }
        _lastPackets = packets;
        _lastBytes = bytes;
        _lastSampleTimestamp = timestamp;

        int max = _engine.Server.Options.MaxAllocations;
        _model.Set(StatusReasons.QuotaNearlyFull, max > 0 && _engine.Server.AllocationCount * 10L >= max * 9L);

        DateTimeOffset now = _clock?.Now.UtcNow ?? _time.GetUtcNow();
        bool judgeable = _clock?.Status is not { InDoubt: true, TimeSource: "local" };
        bool unusable = false, expiring = false;
        foreach (var certificate in _engine.Certificates)
        {
            DateTimeOffset notBefore = certificate.Certificate.NotBefore.ToUniversalTime();
            DateTimeOffset notAfter = certificate.Certificate.NotAfter.ToUniversalTime();
            unusable |= now < notBefore || now >= notAfter;
            expiring |= now < notAfter && notAfter - now < CertificateWarning;
        }
        _model.Set(StatusReasons.TlsCertificateUnusable, unusable && judgeable);
        _model.Set(StatusReasons.CertificateExpiring, expiring && !unusable && judgeable);

        long[] progress = _engine.ProgressSnapshot();
        if (_lastProgress is null || RelayEngine.FirstStalled(_lastProgress, progress) < 0)
        {
            _lastProgress = progress;
            _lastProgressTimestamp = _time.GetTimestamp();
            _model.Clear(StatusReasons.RelayLoopStalled);
        }
        else if (_time.GetElapsedTime(_lastProgressTimestamp) >= StallAfter)
        {
            _model.Raise(StatusReasons.RelayLoopStalled);
        }
    }

    public void Dispose() => _timer?.Dispose();
}
