namespace EdgeRelay.Appliance.Leds;

/// <summary>The logical LEDs of a box. A board may have any subset of them, down to one.</summary>
public enum LedRole
{
    Green,
    Amber,
    Red,
}

/// <summary>A set of lit LEDs: one bit per <see cref="LedRole"/>.</summary>
[Flags]
public enum LedLights
{
    None = 0,
    Green = 1 << LedRole.Green,
    Amber = 1 << LedRole.Amber,
    Red = 1 << LedRole.Red,
}

public static class LedLightsExtensions
{
    public static LedLights ToLights(this LedRole role) => (LedLights)(1 << (int)role);

    public static bool Has(this LedLights lights, LedRole role) => (lights & role.ToLights()) != 0;
}
