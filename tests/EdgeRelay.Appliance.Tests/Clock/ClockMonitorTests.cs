using EdgeRelay.Appliance.Clock;
using EdgeRelay.Appliance.Status;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeRelay.Appliance.Tests.Clock;

/// <summary>
/// The clock check with an injected kernel and an injected clock: unsynchronised at start, synchronised
/// later, the cloud's Date header as a cross-check and as the best time, and steps of the local clock.
/// </summary>
public sealed class ClockMonitorTests
{
    private static readonly DateTimeOffset RealNow = new(2026, 12, 2, 21, 0, 0, TimeSpan.Zero);
    private static readonly KernelClockReading Unsynchronised = new(ClockSynchronisation.Unsynchronised, 16.0, "adjtimex");
    private static readonly KernelClockReading Synchronised = new(ClockSynchronisation.Synchronised, 0.012, "adjtimex");

    private readonly SteppingTimeProvider _time = new(RealNow);
    private readonly StatusModel _model;
    private readonly FakeClockStateSource _kernel = new(Unsynchronised);
    private readonly ClockMonitor _clock;

    public ClockMonitorTests()
    {
        _model = new StatusModel(_time);
        _model.SetStarting(false);
        _clock = new ClockMonitor(_kernel, _model, _time, NullLogger.Instance);
    }

    [Fact]
    public void Unsynchronised_at_start_is_D11_with_its_own_LED_pattern_and_synchronised_later_clears_it()
    {
        _clock.Poll();

        Assert.Equal([StatusReasons.ClockUnsynchronised], _model.Current.Reasons);
        Assert.Equal(Health.Degraded, _model.Current.Health);
        Assert.Equal(LedMode.DegradedClock, _model.Current.Led.Mode);
        Assert.False(_clock.Status.Trusted);
        Assert.Contains("UDP 123", _clock.Status.Detail, StringComparison.Ordinal);

        _kernel.Reading = Synchronised;
        _time.Advance(ClockMonitor.PollInterval);
        _clock.Poll();

        Assert.Empty(_model.Current.Reasons);
        Assert.Equal(LedMode.Healthy, _model.Current.Led.Mode);
        Assert.True(_clock.Status.Trusted);
        Assert.Equal(0.012, _clock.Status.MaxErrorSeconds);
    }

    [Fact]
    public void The_clock_pattern_shows_beside_other_degraded_reasons_but_a_fault_wins()
    {
        _model.Raise(StatusReasons.ConfigurationStale);
        _clock.Poll();
        Assert.Equal(LedMode.DegradedClock, _model.Current.Led.Mode);

        _model.Raise(StatusReasons.NoListener);
        Assert.Equal(new LedSignal(LedMode.Fault, 1), _model.Current.Led);
    }

    [Fact]
    public void A_cloud_Date_far_from_the_local_clock_is_D11_even_when_the_kernel_says_synchronised()
    {
        _kernel.Reading = Synchronised;
        _clock.Poll();
        Assert.Empty(_model.Current.Reasons);

        _clock.ReportCloudDate(RealNow.AddHours(2));

        Assert.Contains(StatusReasons.ClockUnsynchronised, _model.Current.Reasons);
        Assert.False(_clock.Status.Trusted);
        Assert.Equal(7200, _clock.Status.CloudDateOffsetSeconds!.Value, 0);
        Assert.Contains("time.ntpServers", _clock.Status.Detail, StringComparison.Ordinal);
        // NTP wins over an HTTP header: REST credentials stay judged by the local clock.
        Assert.Equal(RealNow, _clock.Now.UtcNow);
    }

    [Fact]
    public void A_cloud_Date_close_to_the_local_clock_does_not_clear_an_unsynchronised_kernel_but_says_so()
    {
        _clock.Poll();
        _clock.ReportCloudDate(RealNow.AddSeconds(2));

        Assert.Contains(StatusReasons.ClockUnsynchronised, _model.Current.Reasons);
        Assert.Contains("agrees within", _clock.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsynchronised_and_told_the_time_by_the_cloud_REST_credentials_are_judged_by_the_cloud_time_across_local_steps()
    {
        // The box booted with the time it saved before a week-long power cut.
        _time.StepWallClock(TimeSpan.FromDays(-7));
        _clock.Poll();
        _clock.ReportCloudDate(RealNow);
        Assert.Equal("cloud-date", _clock.Status.TimeSource);
        Assert.Equal(7 * 86400, _clock.Status.CloudDateOffsetSeconds!.Value, 0);

        _time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(RealNow.AddMinutes(10), _clock.Now.UtcNow, TimeSpan.FromSeconds(1));
        Assert.False(_clock.Now.Trusted);

        // A step of the local clock (someone sets it by hand, or half-way) leaves the cloud's time as it was.
        _time.StepWallClock(TimeSpan.FromDays(3));
        Assert.Equal(RealNow.AddMinutes(10), _clock.Now.UtcNow, TimeSpan.FromSeconds(1));

        // NTP answers: the kernel is synchronised, its clock is right, and it is used again.
        _time.StepWallClock(TimeSpan.FromDays(4));
        _kernel.Reading = Synchronised;
        _clock.Poll();
        Assert.Equal(_time.GetUtcNow(), _clock.Now.UtcNow);
        Assert.True(_clock.Now.Trusted);
        Assert.Empty(_model.Current.Reasons);
    }

    [Fact]
    public void A_cloud_Date_behind_the_unsynchronised_local_clock_never_moves_REST_expiry_backwards()
    {
        // The local clock restarted from the time saved before the power cut: a lower bound of the real time. A
        // Date a day before it (forged by someone holding an old certificate, or a stale cache) is D11, but
        // expiry is still judged by the local clock, so no expired credential comes back to life.
        _clock.Poll();
        _clock.ReportCloudDate(RealNow.AddDays(-1));

        Assert.Equal(-86400, _clock.Status.CloudDateOffsetSeconds!.Value, 0);
        Assert.Equal("local", _clock.Status.TimeSource);
        Assert.Equal(_time.GetUtcNow(), _clock.Now.UtcNow);
        Assert.False(_clock.Now.Trusted);
        Assert.Contains(StatusReasons.ClockUnsynchronised, _model.Current.Reasons);
    }

    [Fact]
    public void An_unknown_state_alone_is_not_a_reason_but_says_why()
    {
        _kernel.Reading = new KernelClockReading(ClockSynchronisation.Unknown, null, "adjtimex", "adjtimex(2) is refused (EPERM)");
        _clock.Poll();

        Assert.Empty(_model.Current.Reasons);
        Assert.Contains("EPERM", _clock.Status.Detail, StringComparison.Ordinal);
        Assert.False(_clock.Status.Trusted);

        _clock.ReportCloudDate(RealNow);
        Assert.True(_clock.Status.Trusted);
    }

    [Fact]
    public void Without_requireSynchronisation_an_unsynchronised_kernel_is_trusted_until_the_cloud_says_otherwise()
    {
        _clock.RequireSynchronisation = false;
        _clock.Poll();
        Assert.Empty(_model.Current.Reasons);
        Assert.True(_clock.Status.Trusted);

        _clock.ReportCloudDate(RealNow.AddHours(-1));
        Assert.Contains(StatusReasons.ClockUnsynchronised, _model.Current.Reasons);
    }

    [Fact]
    public void A_certificate_time_failure_is_blamed_on_a_clock_in_doubt_with_how_far_it_is_off()
    {
        _time.StepWallClock(TimeSpan.FromDays(-40));
        _clock.Poll();

        string? why = _clock.ExplainCertificateTimeFailure("config.example.com", RealNow.AddDays(-10), RealNow.AddDays(80));

        Assert.NotNull(why);
        Assert.Contains("the clock is wrong", why, StringComparison.Ordinal);
        Assert.Contains("at least 30 days behind", why, StringComparison.Ordinal);
        Assert.Contains("not synchronised", why, StringComparison.Ordinal);
        Assert.True(_clock.Status.ClockBlamedForCloudTls);

        // The next answer from the cloud shows TLS works again.
        _kernel.Reading = Synchronised;
        _clock.Poll();
        _clock.ReportCloudDate(_time.GetUtcNow());
        Assert.False(_clock.Status.ClockBlamedForCloudTls);
        Assert.Empty(_model.Current.Reasons);
    }

    [Fact]
    public void A_certificate_time_failure_with_a_trusted_clock_is_the_certificates_fault()
    {
        _kernel.Reading = Synchronised;
        _clock.Poll();

        Assert.Null(_clock.ExplainCertificateTimeFailure("config.example.com", RealNow.AddDays(-100), RealNow.AddDays(-10)));
        Assert.Empty(_model.Current.Reasons);
    }

    [Fact]
    public void With_an_unknown_state_only_a_certificate_not_yet_valid_is_blamed_on_the_clock()
    {
        _kernel.Reading = new KernelClockReading(ClockSynchronisation.Unknown, null, "adjtimex", "refused");
        _clock.Poll();

        Assert.Null(_clock.ExplainCertificateTimeFailure("config.example.com", RealNow.AddDays(-100), RealNow.AddDays(-10)));
        Assert.NotNull(_clock.ExplainCertificateTimeFailure("config.example.com", RealNow.AddDays(10), RealNow.AddDays(100)));
        Assert.Contains(StatusReasons.ClockUnsynchronised, _model.Current.Reasons);
    }
}
