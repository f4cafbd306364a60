namespace EdgeRelay.Appliance.Leds;

/// <summary>A box without LEDs (or with LEDs switched off in the configuration).</summary>
public sealed class NullLedDriver : ILedDriver
{
    public IReadOnlyList<LedRole> Roles => [];

    public void Set(LedRole role, bool on)
    {
    }

    public void Dispose()
    {
    }
}
