using System.Device.Gpio;
using EdgeRelay.Appliance.Leds;
using EdgeRelay.Appliance.Status;

namespace EdgeRelay.Appliance.Tests.Leds;

/// <summary>The patterns, as pin writes over (fake) time on a three-LED GPIO board.</summary>
public sealed class GpioLedAnimationTests : IDisposable
{
    private const int Green = 17, Amber = 27, Red = 22;

    private readonly ManualTimeProvider _time = new();
    private readonly RecordingGpioDriver _chip;
    private readonly GpioLedDriver _driver;
    private readonly LedAnimator _animator;

    public GpioLedAnimationTests() : this(activeLow: false, LedRole.Green, LedRole.Amber, LedRole.Red)
    {
    }

    private GpioLedAnimationTests(bool activeLow, params LedRole[] roles)
    {
        _chip = new RecordingGpioDriver(_time);
        var pins = new Dictionary<LedRole, int> { [LedRole.Green] = Green, [LedRole.Amber] = Amber, [LedRole.Red] = Red }
            .Where(pair => roles.Contains(pair.Key))
            .ToDictionary();
        _driver = new GpioLedDriver(new GpioController(_chip), pins, activeLow);
        _animator = new LedAnimator(_driver, _time);
        _chip.Writes.Clear();
    }

    private static GpioLedAnimationTests ActiveLowBoard() => new(activeLow: true, LedRole.Green, LedRole.Amber, LedRole.Red);

    private static GpioLedAnimationTests SingleLedBoard() => new(activeLow: false, LedRole.Green);

    public void Dispose()
    {
        _animator.Dispose();
        _driver.Dispose();
    }

    private string[] Trace(int untilMs)
    {
        _time.Advance(TimeSpan.FromMilliseconds(untilMs) - _time.Elapsed);
        string[] trace = [.. _chip.Writes.Select(w => w.ToString())];
        _chip.Writes.Clear();
        return trace;
    }

    [Fact]
    public void Opening_makes_every_pin_an_output_that_is_off()
    {
        var chip = new RecordingGpioDriver(_time);
        using var driver = new GpioLedDriver(new GpioController(chip), new Dictionary<LedRole, int> { [LedRole.Green] = 5, [LedRole.Red] = 6 }, activeLow: false);

        Assert.Equal([LedRole.Green, LedRole.Red], driver.Roles);
        Assert.Equal([5, 6], chip.OpenPins.Order());
        Assert.Equal(PinValue.Low, chip.Level(5));
        Assert.Equal(PinValue.Low, chip.Level(6));
    }

    [Fact]
    public void Healthy_is_green_steady_on()
    {
        _animator.Show(new LedSignal(LedMode.Healthy));

        Assert.Equal(["0ms pin17=H"], Trace(60_000));
    }

    [Fact]
    public void Degraded_is_amber_steady_on()
    {
        _animator.Show(new LedSignal(LedMode.Degraded));

        Assert.Equal(["0ms pin27=H"], Trace(60_000));
    }

    [Fact]
    public void Off_leaves_everything_dark()
    {
        _animator.Show(new LedSignal(LedMode.Healthy));
        _time.AdvanceMilliseconds(100);
        _animator.Show(new LedSignal(LedMode.Off));

        Assert.Equal(["0ms pin17=H", "100ms pin17=L"], Trace(10_000));
    }

    [Fact]
    public void Starting_blinks_amber_500_ms_on_500_ms_off()
    {
        _animator.Show(new LedSignal(LedMode.Starting));

        Assert.Equal(
            ["0ms pin27=H", "500ms pin27=L", "1000ms pin27=H", "1500ms pin27=L", "2000ms pin27=H", "2500ms pin27=L", "3000ms pin27=H"],
            Trace(3_200));
    }

    [Fact]
    public void Fault_3_blinks_red_three_times_then_pauses_and_repeats()
    {
        _animator.Show(new LedSignal(LedMode.Fault, 3));

        string[] cycle(int t) =>
        [
            $"{t}ms pin22=H", $"{t + 300}ms pin22=L", $"{t + 600}ms pin22=H", $"{t + 900}ms pin22=L",
            $"{t + 1200}ms pin22=H", $"{t + 1500}ms pin22=L",
        ];
        // 3 x 600 ms of blinks, then 1.5 s of pause after the last blink's 300 ms off: 3.3 s a cycle.
        Assert.Equal([.. cycle(0), .. cycle(3300), .. cycle(6600)], Trace(9_899));
    }

    [Fact]
    public void Identify_chases_every_LED_for_15_s_then_returns_to_the_signal_before_it()
    {
        _animator.Show(new LedSignal(LedMode.Degraded));
        _time.AdvanceMilliseconds(1_000);
        _chip.Writes.Clear();

        _animator.Show(new LedSignal(LedMode.Identify));

        string[] trace = Trace(20_000);
        Assert.Equal(
            ["1000ms pin27=L", "1000ms pin17=H", "1150ms pin17=L", "1150ms pin27=H", "1300ms pin27=L", "1300ms pin22=H",
             "1450ms pin22=L", "1450ms pin17=H", "1600ms pin17=L", "1600ms pin27=H"],
            trace[..10]);
        // 100 steps of 150 ms: the last one (green) starts at 15.85 s; at 16 s amber is back, steady.
        Assert.Equal(["15850ms pin22=L", "15850ms pin17=H", "16000ms pin17=L", "16000ms pin27=H"], trace[^4..]);
        Assert.Equal(2 + 99 * 2 + 2, trace.Length);
        Assert.False(_animator.IsIdentifying);
        Assert.Equal(new LedSignal(LedMode.Degraded), _animator.Signal);
    }

    [Fact]
    public void A_signal_during_identify_is_shown_when_the_chase_ends()
    {
        _animator.Show(new LedSignal(LedMode.Identify));
        _time.AdvanceMilliseconds(5_000);
        _animator.Show(new LedSignal(LedMode.Fault, 1));
        Assert.True(_animator.IsIdentifying);
        _chip.Writes.Clear();

        string[] trace = Trace(15_400);

        Assert.Equal(["15000ms pin22=H", "15300ms pin22=L"], trace[^2..]);
    }

    [Fact]
    public void Relaying_is_green_on_flickering_off_for_60_ms_when_traffic_is_reported()
    {
        _animator.Show(new LedSignal(LedMode.Relaying));
        _time.AdvanceMilliseconds(1_000);
        _animator.ReportTraffic();
        _time.AdvanceMilliseconds(100);
        _animator.ReportTraffic(); // 100 ms after the last flicker: too soon, ignored
        _time.AdvanceMilliseconds(200);
        _animator.ReportTraffic();

        Assert.Equal(["0ms pin17=H", "1000ms pin17=L", "1060ms pin17=H", "1300ms pin17=L", "1360ms pin17=H"], Trace(5_000));
    }

    [Fact]
    public void Traffic_does_not_flicker_a_healthy_idle_box()
    {
        _animator.Show(new LedSignal(LedMode.Healthy));
        _time.AdvanceMilliseconds(1_000);
        _animator.ReportTraffic();

        Assert.Equal(["0ms pin17=H"], Trace(2_000));
    }

    [Fact]
    public void Active_low_pins_are_driven_low_to_light()
    {
        using GpioLedAnimationTests board = ActiveLowBoard();
        Assert.Equal(PinValue.High, board._chip.Level(Green)); // opened dark

        board._animator.Show(new LedSignal(LedMode.Starting));

        Assert.Equal(["0ms pin27=L", "500ms pin27=H", "1000ms pin27=L"], board.Trace(1_000));
    }

    [Fact]
    public void A_new_signal_restarts_the_pattern_at_once()
    {
        _animator.Show(new LedSignal(LedMode.Fault, 2));
        _time.AdvanceMilliseconds(1_000); // in the pause, red dark
        _animator.Show(new LedSignal(LedMode.Starting));
        _time.AdvanceMilliseconds(200); // amber lit
        _animator.Show(new LedSignal(LedMode.Fault, 2));

        Assert.Equal(
            ["0ms pin22=H", "300ms pin22=L", "600ms pin22=H", "900ms pin22=L",
             "1000ms pin27=H",
             "1200ms pin27=L", "1200ms pin22=H", "1500ms pin22=L", "1800ms pin22=H"],
            Trace(1_800));
    }

    [Fact]
    public void Showing_the_same_signal_again_does_not_restart_it()
    {
        _animator.Show(new LedSignal(LedMode.Starting));
        _time.AdvanceMilliseconds(400);
        _animator.Show(new LedSignal(LedMode.Starting));

        Assert.Equal(["0ms pin27=H", "500ms pin27=L"], Trace(600));
    }

    [Fact]
    public void A_single_LED_shows_fault_2_as_preamble_then_two_short_flashes()
    {
        using GpioLedAnimationTests board = SingleLedBoard();
        board._animator.Show(new LedSignal(LedMode.Fault, 2));

        Assert.Equal(
            ["0ms pin17=H", "2000ms pin17=L", "4000ms pin17=H", "4080ms pin17=L", "4400ms pin17=H", "4480ms pin17=L", "6480ms pin17=H"],
            board.Trace(6_500));
    }

    [Fact]
    public void A_single_LED_shows_degraded_as_a_heartbeat()
    {
        using GpioLedAnimationTests board = SingleLedBoard();
        board._animator.Show(new LedSignal(LedMode.Degraded));

        Assert.Equal(
            ["0ms pin17=H", "100ms pin17=L", "200ms pin17=H", "300ms pin17=L", "1600ms pin17=H", "1700ms pin17=L"],
            board.Trace(1_799));
    }

    [Fact]
    public void A_single_LED_blinks_fast_and_even_while_starting()
    {
        using GpioLedAnimationTests board = SingleLedBoard();
        board._animator.Show(new LedSignal(LedMode.Starting));

        Assert.Equal(["0ms pin17=H", "100ms pin17=L", "200ms pin17=H", "300ms pin17=L"], board.Trace(399));
    }

    [Fact]
    public void Disposing_turns_the_LEDs_off_and_closes_the_pins()
    {
        _animator.Show(new LedSignal(LedMode.Healthy));
        _animator.Dispose();
        _driver.Dispose();

        Assert.Equal(PinValue.Low, _chip.Level(Green));
        Assert.Empty(_chip.OpenPins);
        Assert.True(_chip.Disposed);
    }
}
