namespace EdgeRelay.Appliance.Leds;

/// <summary>
/// Switches physical LEDs. Drivers start with every LED off, so the animator only writes changes.
/// Calls come from one thread at a time (the animator serialises them).
/// </summary>
public interface ILedDriver : IDisposable
{
    /// <summary>The LEDs this board has, in role order. One entry means the single-LED encoding.</summary>
    IReadOnlyList<LedRole> Roles { get; }

    /// <summary>Switches the LED steadily on or off, ending any hardware blinking on it.</summary>
    void Set(LedRole role, bool on);

    /// <summary>
    /// Lets the hardware (the kernel's timer trigger) blink the LED evenly so the process need not wake
    /// up for it. Returns false when the driver cannot, and the animator then blinks it itself.
    /// </summary>
    bool TryBlink(LedRole role, TimeSpan on, TimeSpan off) => false;
}
