using System.Device.Gpio;
using EdgeRelay.Appliance.Leds;
using EdgeRelay.Appliance.Status;

namespace EdgeRelay.Appliance.Tests.Leds;

/// <summary>
/// The chain the box runs (the status model's verdict shown by the animator on GPIO, as
/// ApplianceService wires it), through every state, read as pin levels over fake time.
/// </summary>
public sealed class StatusModelOnLedsTests : IDisposable
{
    private const int Green = 17, Amber = 27, Red = 22;

    private readonly ManualTimeProvider _time = new();
    private readonly RecordingGpioDriver _chip;
    private readonly GpioLedDriver _driver;
    private readonly LedAnimator _animator;
    private readonly StatusModel _model;

    public StatusModelOnLedsTests()
    {
        _chip = new RecordingGpioDriver(_time);
        _driver = new GpioLedDriver(new GpioController(_chip),
            new Dictionary<LedRole, int> { [LedRole.Green] = Green, [LedRole.Amber] = Amber, [LedRole.Red] = Red }, activeLow: false);
        _animator = new LedAnimator(_driver, _time);
        _model = new StatusModel(_time);
        _model.Changed += status => _animator.Show(status.Led);
        _animator.Show(_model.Current.Led);
    }

    public void Dispose()
    {
        _animator.Dispose();
        _driver.Dispose();
    }

    private string Lit()
    {
        var lit = new List<string>();
        if (_chip.Level(Green) == PinValue.High) lit.Add("green");
        if (_chip.Level(Amber) == PinValue.High) lit.Add("amber");
        if (_chip.Level(Red) == PinValue.High) lit.Add("red");
        return string.Join("+", lit);
    }

    private List<string> Sample(int everyMs, int count)
    {
        var seen = new List<string>();
        for (int i = 0; i < count; i++)
        {
            seen.Add(Lit());
            _time.AdvanceMilliseconds(everyMs);
        }
        return seen;
    }

    [Fact]
    public void Starting_then_healthy_relaying_degraded_fault_and_back()
    {
        // Starting: amber blinking 500 ms on / 500 ms off.
        Assert.Equal(["amber", "", "amber", ""], Sample(500, 4));

        // Ready: green steady.
        _model.SetStarting(false);
        Assert.Equal(["green", "green", "green"], Sample(400, 3));

        // Traffic: relaying, green flickers off for 60 ms when traffic is reported.
        _model.ReportTraffic();
        Assert.Equal(Health.Relaying, _model.Current.Health);
        _animator.ReportTraffic();
        Assert.Equal("", Lit());
        _time.AdvanceMilliseconds(60);
        Assert.Equal("green", Lit());

        // Degraded: amber steady, green off.
        _model.Raise(StatusReasons.QuotaNearlyFull);
        Assert.Equal(["amber", "amber", "amber"], Sample(700, 3));

        // Fault 2 over degraded: red blinks twice (300 ms on / 300 ms off), 1.5 s pause, again.
        _model.Raise(StatusReasons.InvalidConfiguration);
        Assert.Equal(["red", "", "red", "", "", "", "", "", "", "red"], Sample(300, 10));

        // The fault cleared: degraded again; the reason cleared and traffic long gone: healthy idle.
        _model.Clear(StatusReasons.InvalidConfiguration);
        Assert.Equal("amber", Lit());
        _model.Clear(StatusReasons.QuotaNearlyFull);
        Assert.Equal(Health.HealthyIdle, _model.Current.Health);
        Assert.Equal("green", Lit());
    }
}
