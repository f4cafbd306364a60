using EdgeRelay.Appliance.Status;
using EdgeRelay.Appliance.Tests.Leds;

namespace EdgeRelay.Appliance.Tests.Status;

public sealed class StatusModelTests
{
    private readonly ManualTimeProvider _clock = new();

    [Fact]
    public void A_new_model_is_starting_with_amber_blinking()
    {
        var model = new StatusModel(_clock);
        Assert.Equal(Health.Starting, model.Current.Health);
        Assert.Equal(new LedSignal(LedMode.Starting), model.Current.Led);
        Assert.Equal("starting", model.Current.Summary);
    }

    [Fact]
    public void Ready_without_traffic_is_healthy_idle_and_traffic_makes_it_relaying_until_the_window_passes()
    {
        var model = new StatusModel(_clock);
        model.SetStarting(false);
        Assert.Equal(Health.HealthyIdle, model.Current.Health);
        Assert.Equal(LedMode.Healthy, model.Current.Led.Mode);

        model.ReportTraffic();
        Assert.Equal(Health.Relaying, model.Current.Health);
        Assert.Equal(LedMode.Relaying, model.Current.Led.Mode);

        _clock.Advance(StatusModel.TrafficWindow - TimeSpan.FromMilliseconds(1));
        Assert.Equal(Health.Relaying, model.Current.Health);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(Health.HealthyIdle, model.Current.Health);
    }

    [Fact]
    public void A_degraded_reason_shows_amber_steady_and_names_its_code()
    {
        var model = new StatusModel(_clock);
        model.SetStarting(false);
        model.ReportTraffic();
        model.Raise(StatusReasons.CertificateExpiring);

        ApplianceStatus status = model.Current;
        Assert.Equal(Health.Degraded, status.Health);
        Assert.Equal(new LedSignal(LedMode.Degraded), status.Led);
        Assert.Equal([StatusReasons.CertificateExpiring], status.Reasons);
        Assert.Equal("degraded: D3-certificate-expiring", status.Summary);

        model.Clear(StatusReasons.CertificateExpiring);
        Assert.Equal(Health.Relaying, model.Current.Health);
    }

    [Fact]
    public void A_fault_wins_over_starting_and_degraded_and_the_lowest_blink_code_is_shown()
    {
        var model = new StatusModel(_clock);
        model.Raise(StatusReasons.QuotaNearlyFull);
        model.Raise(StatusReasons.TlsCertificateUnusable);
        model.Raise(StatusReasons.NoListener);

        ApplianceStatus status = model.Current;
        Assert.Equal(Health.Fault, status.Health);
        Assert.Equal(new LedSignal(LedMode.Fault, 1), status.Led);
        Assert.Equal([StatusReasons.NoListener, StatusReasons.TlsCertificateUnusable, StatusReasons.QuotaNearlyFull], status.Reasons);

        model.Clear(StatusReasons.NoListener);
        Assert.Equal(new LedSignal(LedMode.Fault, 3), model.Current.Led);
        model.Clear(StatusReasons.TlsCertificateUnusable);
        Assert.Equal(Health.Starting, model.Current.Health);
        model.SetStarting(false);
        Assert.Equal(Health.Degraded, model.Current.Health);
    }

    [Fact]
    public void Changed_fires_once_per_change_of_the_verdict_only()
    {
        var model = new StatusModel(_clock);
        var seen = new List<Health>();
        model.Changed += s => seen.Add(s.Health);

        model.SetStarting(false);
        model.SetStarting(false);
        model.Raise(StatusReasons.CloudUnreachable);
        model.Raise(StatusReasons.CloudUnreachable);
        model.Clear(StatusReasons.CloudUnreachable);
        model.Clear(StatusReasons.CloudUnreachable);

        Assert.Equal([Health.HealthyIdle, Health.Degraded, Health.HealthyIdle], seen);
    }

    [Fact]
    public void Every_reason_has_a_unique_stable_code_and_faults_have_unique_countable_blink_codes()
    {
        Assert.Equal(StatusReasons.All.Count, StatusReasons.All.Select(r => r.Code).Distinct().Count());
        var faults = StatusReasons.All.Where(r => r.Severity == Severity.Fault).ToList();
        Assert.Equal(faults.Count, faults.Select(r => r.BlinkCode).Distinct().Count());
        Assert.All(faults, f => Assert.InRange(f.BlinkCode, 1, 9));
        Assert.All(StatusReasons.All.Where(r => r.Severity == Severity.Degraded), d => Assert.Equal(0, d.BlinkCode));
        Assert.All(StatusReasons.All, r => Assert.Matches("^[FD][0-9]+-[a-z-]+$", r.Code));
    }
}
