using EdgeRelay.Net;
using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace EdgeRelay.Appliance.Systemd;

/// <summary>
/// Keeps systemd's watchdog (systemd.service(5) WatchdogSec=) fed, but only while the relay makes
/// progress: every counter of <see cref="IRelayProgress.ProgressSnapshot"/> must have grown since the
/// previous WATCHDOG=1. A loop stuck in a syscall or on the core's lock stops the pings, and systemd then
/// kills and restarts the service (Restart=always) — a live process that relays nothing is worse than
/// a restart. Every check also sends STATUS= with a one-line summary for <c>systemctl status</c>.
/// The timer tick moves once a second, so WatchdogSec= must be well above 2 s (the unit has 30 s).
/// </summary>
public sealed class SystemdWatchdog : IHostedService, IDisposable
{
    /// <summary>How often STATUS= is refreshed when systemd asked for no watchdog.</summary>
    public static readonly TimeSpan StatusOnlyPeriod = TimeSpan.FromSeconds(10);

    private readonly ISystemdNotifier _notifier;
    private readonly IRelayProgress _relay;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _checking = new();
    private ITimer? _timer;
    private long[] _atLastProgress = [];
    private long _progressTimestamp;
    private long _datagrams;
    private long _datagramsTimestamp;
    private bool _stallLogged;

    /// <param name="watchdogInterval">WatchdogSec= as systemd passed it (<see cref="ReadInterval"/>), or null for none.</param>
    public SystemdWatchdog(ISystemdNotifier notifier, IRelayProgress relay, TimeSpan? watchdogInterval, TimeProvider time, ILogger<SystemdWatchdog> logger)
    {
        _notifier = notifier;
        _relay = relay;
        WatchdogInterval = watchdogInterval;
        _time = time;
        _logger = logger;
    }

    public TimeSpan? WatchdogInterval { get; }

    /// <summary>sd_watchdog_enabled(3): "it is recommended that a daemon sends a keep-alive notification message [...] every half of the time returned here".</summary>
    public TimeSpan Period => WatchdogInterval is { } interval ? interval / 2 : StatusOnlyPeriod;

    /// <summary>
    /// sd_watchdog_enabled(3): the watchdog is on when $WATCHDOG_USEC holds a positive number of
    /// microseconds and $WATCHDOG_PID, if set, is our pid (a child that inherited the variables must not
    /// feed its parent's watchdog).
    /// </summary>
    public static TimeSpan? ReadInterval(Func<string, string?> environment, int processId)
    {
        if (!long.TryParse(environment("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out long microseconds) || microseconds <= 0)
        {
            return null;
        }
        string? pid = environment("WATCHDOG_PID");
        if (!string.IsNullOrEmpty(pid)
            && (!int.TryParse(pid, NumberStyles.None, CultureInfo.InvariantCulture, out int watchedPid) || watchedPid != processId))
        {
            return null;
        }
        return TimeSpan.FromMicroseconds(microseconds);
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Without $NOTIFY_SOCKET no one listens (not run by systemd, or NotifyAccess=none).
        if (!_notifier.IsEnabled)
        {
            return Task.CompletedTask;
        }
        _atLastProgress = _relay.ProgressSnapshot();
        _progressTimestamp = _datagramsTimestamp = _time.GetTimestamp();
        _datagrams = _relay.Activity().Datagrams;
        SystemdLog.WatchdogStarted(_logger, WatchdogInterval?.TotalSeconds ?? 0, Period.TotalSeconds);
        _timer = _time.CreateTimer(_ => Check(), null, Period, Period);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _timer?.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _timer?.Dispose();

    /// <summary>One turn of the watchdog: ping if everything moved since the last ping, and refresh STATUS=.</summary>
    internal void Check()
    {
        // A timer callback may run late and overlap the next one; two checks at once would race on the baseline.
        lock (_checking)
        {
            long[] now = _relay.ProgressSnapshot();
            int stalled = RelayEngine.FirstStalled(_atLastProgress, now);
            string status;
            if (stalled < 0)
            {
                if (_stallLogged)
                {
                    SystemdLog.Resumed(_logger);
                    _stallLogged = false;
                }
                _atLastProgress = now;
                _progressTimestamp = _time.GetTimestamp();
                status = RelayingStatus();
            }
            else
            {
                // No WATCHDOG=1: the baseline stays at the last good snapshot, so the stuck part must move
                // past it before the pings come back, and systemd fires after WatchdogSec= if it never does.
                string part = RelayEngine.ProgressPartName(stalled, now.Length);
                TimeSpan still = _time.GetElapsedTime(_progressTimestamp);
                double seconds = Math.Round(still.TotalSeconds);
                // One check without progress can be a matter of phase (the tick turns once a second, and
                // a short WatchdogSec= checks about as often); two in a row is a part that is stuck.
                if (!_stallLogged && still >= 2 * Period)
                {
                    SystemdLog.Stalled(_logger, part, seconds);
                    _stallLogged = true;
                }
                status = $"stalled: {part} has not moved for {seconds.ToString(CultureInfo.InvariantCulture)} s";
            }
            // sd_notify(3): several assignments may go in one message, one per line.
            string message = stalled < 0 && WatchdogInterval is not null ? $"WATCHDOG=1\nSTATUS={status}" : $"STATUS={status}";
            _notifier.Notify(new ServiceState(message));
        }
    }

    private string RelayingStatus()
    {
        RelayActivity activity = _relay.Activity();
        TimeSpan elapsed = _time.GetElapsedTime(_datagramsTimestamp);
        long packetsPerSecond = elapsed > TimeSpan.Zero ? (long)((activity.Datagrams - _datagrams) / elapsed.TotalSeconds) : 0;
        _datagrams = activity.Datagrams;
        _datagramsTimestamp = _time.GetTimestamp();
        return string.Create(CultureInfo.InvariantCulture,
            $"{(activity.Draining ? "draining" : "relaying")}: {activity.Allocations} allocations, {activity.StreamConnections} stream connections, {packetsPerSecond} pps");
    }
}
