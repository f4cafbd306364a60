namespace EdgeRelay.Appliance.Leds;

/// <summary>One step of a pattern: which LEDs are lit, for how long (<see cref="Timeout.InfiniteTimeSpan"/>: hold).</summary>
public readonly record struct LedStep(LedLights Lights, TimeSpan Duration)
{
    public bool IsHold => Duration == Timeout.InfiniteTimeSpan;
}

/// <summary>An even blink of one LED that a driver may hand to the hardware (<see cref="ILedDriver.TryBlink"/>).</summary>
public readonly record struct LedBlink(LedRole Role, TimeSpan On, TimeSpan Off);

/// <summary>
/// Steps that repeat from the first after the last, unless a step holds. <see cref="Flickers"/>:
/// lit LEDs go briefly dark when traffic is reported. <see cref="HardwareBlink"/>: the same
/// pattern expressed as an even blink the kernel can run on its own.
/// </summary>
public sealed record LedPattern(IReadOnlyList<LedStep> Steps, bool Flickers = false, LedBlink? HardwareBlink = null)
{
    public static LedPattern Hold(LedLights lights, bool flickers = false) =>
        new([new LedStep(lights, Timeout.InfiniteTimeSpan)], flickers);

    public static LedPattern Blink(LedRole role, TimeSpan on, TimeSpan off) =>
        new([new LedStep(role.ToLights(), on), new LedStep(LedLights.None, off)], HardwareBlink: new LedBlink(role, on, off));
}
