using EdgeRelay.Appliance.Status;

namespace EdgeRelay.Appliance.Leds;

/// <summary>
/// What each <see cref="LedSignal"/> looks like, for a board with several LEDs and for a board with
/// one. The timings are the legend's (<see cref="LedLegend"/>); change both together.
/// </summary>
public static class LedPatterns
{
    public static readonly TimeSpan IdentifyDuration = TimeSpan.FromSeconds(15);
    public static readonly TimeSpan FlickerOff = TimeSpan.FromMilliseconds(60);

    /// <summary>At most four flickers a second: a busy relay must still look mostly on.</summary>
    public static readonly TimeSpan FlickerMinInterval = TimeSpan.FromMilliseconds(250);

    public static LedPattern For(LedSignal signal, IReadOnlyList<LedRole> roles)
    {
        if (roles.Count == 1)
            return SingleLed(signal, roles[0]);
        return MultiLed(signal, roles);
    }

    /// <summary>The fault code shown: 1-9, so a count of blinks stays countable.</summary>
    public static int BlinkCount(int faultCode) => Math.Clamp(faultCode, 1, 9);

    public static LedPattern MultiLed(LedSignal signal, IReadOnlyList<LedRole> roles)
    {
        // A board without amber (a Pi's own green ACT and red PWR) shows amber as green and red
        // together, as a bicolour LED does; a board without red shows red as amber.
        LedLights amber = roles.Contains(LedRole.Amber) ? LedLights.Amber : LedLights.Green | LedLights.Red;
        LedLights red = roles.Contains(LedRole.Red) ? LedLights.Red : LedLights.Amber;

        switch (signal.Mode)
        {
            case LedMode.Healthy:
                return LedPattern.Hold(LedLights.Green);
            case LedMode.Relaying:
                return LedPattern.Hold(LedLights.Green, flickers: true);
            case LedMode.Starting:
                return amber == LedLights.Amber
                    ? LedPattern.Blink(LedRole.Amber, Ms(500), Ms(500))
                    : new LedPattern([new LedStep(amber, Ms(500)), new LedStep(LedLights.None, Ms(500))]);
            case LedMode.Degraded:
                return LedPattern.Hold(amber);
            case LedMode.DegradedClock:
                // Amber and green by turns, a second each: nothing else shows green and amber in one pattern.
                return new LedPattern([new LedStep(amber, Ms(1000)), new LedStep(LedLights.Green, Ms(1000))]);
            case LedMode.Fault:
            {
                var steps = new List<LedStep>();
                int blinks = BlinkCount(signal.FaultCode);
                for (int i = 0; i < blinks; i++)
                {
                    steps.Add(new LedStep(red, Ms(300)));
                    // The pause follows the last blink's own 300 ms off.
                    steps.Add(new LedStep(LedLights.None, i == blinks - 1 ? Ms(300 + 1500) : Ms(300)));
                }
                return new LedPattern(steps);
            }
            case LedMode.Identify:
            {
                var steps = new List<LedStep>();
                foreach (LedRole role in roles)
                    steps.Add(new LedStep(role.ToLights(), Ms(150)));
                return steps.Count == 0 ? LedPattern.Hold(LedLights.None) : new LedPattern(steps);
            }
            default:
                return LedPattern.Hold(LedLights.None);
        }
    }

    /// <summary>
    /// One LED, often the Pi's ACT LED, whose firmware flashes boot errors as groups of long and
    /// short flashes. Nothing here is a group of long flashes: steady, even blinks, a heartbeat, and
    /// fault codes that start with a 2 s steady-on preamble the firmware never shows.
    /// </summary>
    public static LedPattern SingleLed(LedSignal signal, LedRole role)
    {
        LedLights on = role.ToLights();
        switch (signal.Mode)
        {
            case LedMode.Healthy:
                return LedPattern.Hold(on);
            case LedMode.Relaying:
                return LedPattern.Hold(on, flickers: true);
            case LedMode.Starting:
                return LedPattern.Blink(role, Ms(100), Ms(100));
            case LedMode.Degraded:
                return new LedPattern(
                [
                    new LedStep(on, Ms(100)), new LedStep(LedLights.None, Ms(100)),
                    new LedStep(on, Ms(100)), new LedStep(LedLights.None, Ms(1300)),
                ]);
            case LedMode.DegradedClock:
                // Mostly on, with a double dip: the firmware's boot-error codes are groups of flashes out of the
                // dark (three short is its "generic failure to boot"), which this must not look like.
                return new LedPattern(
                [
                    new LedStep(on, Ms(2600)), new LedStep(LedLights.None, Ms(100)),
                    new LedStep(on, Ms(100)), new LedStep(LedLights.None, Ms(100)),
                ]);
            case LedMode.Fault:
            {
                var steps = new List<LedStep> { new(on, Ms(2000)), new(LedLights.None, Ms(2000)) };
                int flashes = BlinkCount(signal.FaultCode);
                for (int i = 0; i < flashes; i++)
                {
                    steps.Add(new LedStep(on, Ms(80)));
                    // Flashes start 400 ms apart; after the last, 2 s dark before the preamble again.
                    steps.Add(new LedStep(LedLights.None, i == flashes - 1 ? Ms(2000) : Ms(320)));
                }
                return new LedPattern(steps);
            }
            case LedMode.Identify:
                return new LedPattern([new LedStep(on, Ms(50)), new LedStep(LedLights.None, Ms(50))]);
            default:
                return LedPattern.Hold(LedLights.None);
        }
    }

    private static TimeSpan Ms(int milliseconds) => TimeSpan.FromMilliseconds(milliseconds);
}
