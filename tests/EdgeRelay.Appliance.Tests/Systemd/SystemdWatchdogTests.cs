using EdgeRelay.Appliance.Systemd;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeRelay.Appliance.Tests.Systemd;

/// <summary>
/// The watchdog feeds systemd only while every part of the relay moves (systemd.service(5) WatchdogSec=,
/// sd_notify(3) WATCHDOG=1), at half the interval (sd_watchdog_enabled(3)). The clock is a fake one:
/// nothing here waits.
/// </summary>
public sealed class SystemdWatchdogTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Half = Interval / 2;

    private readonly ManualTimeProvider _time = new();
    private readonly RecordingNotifier _notifier = new();
    private readonly FakeRelayProgress _relay = new();

    private SystemdWatchdog Start(TimeSpan? interval)
    {
        var watchdog = new SystemdWatchdog(_notifier, _relay, interval, _time, NullLogger<SystemdWatchdog>.Instance);
        watchdog.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        return watchdog;
    }

    [Fact]
    public void Pings_at_half_the_interval_while_every_counter_grows()
    {
        using SystemdWatchdog watchdog = Start(Interval);
        Assert.Equal(Half, watchdog.Period);
        for (int i = 1; i <= 4; i++)
        {
            _relay.AdvanceAll();
            _time.Advance(Half - TimeSpan.FromMilliseconds(1));
            Assert.Equal(i - 1, _notifier.Count("WATCHDOG=1"));
            _time.Advance(TimeSpan.FromMilliseconds(1));
            Assert.Equal(i, _notifier.Count("WATCHDOG=1"));
        }
    }

    [Theory]
    [InlineData(0)] // an event loop
    [InlineData(2)] // the timer tick, which stalls with a core stuck on its lock
    public void Stops_pinging_when_one_counter_stalls_and_resumes_when_it_moves_again(int stuck)
    {
        using SystemdWatchdog watchdog = Start(Interval);
        _relay.AdvanceAll();
        _time.Advance(Half);
        Assert.Equal(1, _notifier.Count("WATCHDOG=1"));

        for (int i = 0; i < 5; i++)
        {
            _relay.AdvanceAllBut(stuck);
            _time.Advance(Half);
        }
        Assert.Equal(1, _notifier.Count("WATCHDOG=1"));
        Assert.StartsWith("STATUS=stalled: ", _notifier.LastStatus());

        _relay.AdvanceAll();
        _time.Advance(Half);
        Assert.Equal(2, _notifier.Count("WATCHDOG=1"));
        Assert.StartsWith("STATUS=relaying: ", _notifier.LastStatus());
    }

    [Fact]
    public void A_counter_that_moved_once_after_the_last_ping_counts_as_progress()
    {
        // The baseline is the snapshot of the last ping, not of the last check: a loop that was slow for
        // one check and then moved has made progress since the ping.
        using SystemdWatchdog watchdog = Start(Interval);
        _relay.AdvanceAllBut(1);
        _time.Advance(Half);
        Assert.Equal(0, _notifier.Count("WATCHDOG=1"));
        _relay.Counters[1]++;
        _time.Advance(Half);
        Assert.Equal(1, _notifier.Count("WATCHDOG=1"));
    }

    [Fact]
    public void Status_sums_up_allocations_stream_connections_and_packet_rate()
    {
        using SystemdWatchdog watchdog = Start(Interval);
        _relay.AdvanceAll();
        _relay.Current = new RelayActivity(Allocations: 3, StreamConnections: 2, Datagrams: 1500);
        _time.Advance(Half);
        Assert.Equal("STATUS=relaying: 3 allocations, 2 stream connections, 100 pps", _notifier.LastStatus());
    }

    [Fact]
    public void Status_says_draining_while_the_relay_drains()
    {
        using SystemdWatchdog watchdog = Start(Interval);
        _relay.AdvanceAll();
        _relay.Current = new RelayActivity(Allocations: 3, StreamConnections: 0, Datagrams: 0, Draining: true);
        _time.Advance(Half);
        Assert.StartsWith("STATUS=draining: 3 allocations, 0 stream connections", _notifier.LastStatus());
    }

    [Fact]
    public void Without_a_watchdog_interval_only_the_status_is_sent()
    {
        using SystemdWatchdog watchdog = Start(null);
        Assert.Equal(SystemdWatchdog.StatusOnlyPeriod, watchdog.Period);
        _relay.AdvanceAll();
        _time.Advance(watchdog.Period);
        Assert.Equal(0, _notifier.Count("WATCHDOG=1"));
        Assert.StartsWith("STATUS=relaying: ", _notifier.LastStatus());
    }

    [Fact]
    public async Task Stopped_watchdog_sends_nothing_more()
    {
        SystemdWatchdog watchdog = Start(Interval);
        await watchdog.StopAsync(CancellationToken.None);
        _relay.AdvanceAll();
        _time.Advance(Interval);
        Assert.Null(_notifier.LastStatus());
    }

    [Theory]
    [InlineData("30000000", null, 30.0)]
    [InlineData("2000000", "4242", 2.0)]
    [InlineData(null, null, null)]
    [InlineData("0", null, null)]
    [InlineData("-5", null, null)]
    [InlineData("lots", null, null)]
    [InlineData("30000000", "1", null)] // the variables were meant for another process (our parent)
    public void The_interval_comes_from_WATCHDOG_USEC_for_our_pid_only(string? usec, string? pid, double? seconds)
    {
        var environment = new Dictionary<string, string?> { ["WATCHDOG_USEC"] = usec, ["WATCHDOG_PID"] = pid };
        TimeSpan? interval = SystemdWatchdog.ReadInterval(name => environment.GetValueOrDefault(name), processId: 4242);
        Assert.Equal(seconds, interval?.TotalSeconds);
    }
}
