namespace EdgeRelay.Appliance.Status;

/// <summary>
/// What the LEDs are asked to show: the status model's verdict reduced to what a technician reads
/// (README, "What the LEDs say"). The LED layer turns it into pin and brightness sequences.
/// </summary>
public enum LedMode
{
    /// <summary>All off: the process is not running its relay (or LEDs are switched off).</summary>
    Off,

    /// <summary>Amber blinking: starting, applying a configuration, or updating the software (D12).</summary>
    Starting,

    /// <summary>Green steady: healthy, no traffic.</summary>
    Healthy,

    /// <summary>Green, flickering with traffic: healthy and relaying.</summary>
    Relaying,

    /// <summary>Amber steady: degraded (the reasons are on the page).</summary>
    Degraded,

    /// <summary>
    /// Amber and green taking turns: degraded, and the clock is not synchronised (D11) — the one reason a
    /// technician can fix at the firewall (NTP) without a laptop, and the cause of others (cloud TLS, REST).
    /// </summary>
    DegradedClock,

    /// <summary>Red blink code: N blinks, a pause, repeated; N is <see cref="LedSignal.FaultCode"/>.</summary>
    Fault,

    /// <summary>All LEDs chasing, for 15 s: "this is the box".</summary>
    Identify,
}

/// <summary>The LEDs' input. <paramref name="FaultCode"/> (1-9) matters for <see cref="LedMode.Fault"/> only.</summary>
public readonly record struct LedSignal(LedMode Mode, int FaultCode = 0);
