namespace EdgeRelay.Appliance.Leds;

/// <summary>Which LED driver the box uses.</summary>
public enum LedDriverKind
{
    /// <summary>No LEDs: the animator still runs, nothing is written.</summary>
    None,

    /// <summary>LED changes are logged: for development runs without hardware.</summary>
    Console,

    /// <summary>LEDs on GPIO pins, through libgpiod (character device).</summary>
    Gpio,

    /// <summary>LEDs the kernel exposes under /sys/class/leds (the Pi's own ACT and PWR).</summary>
    Sysfs,
}

/// <summary>
/// The configured LED driver. A role whose pin (gpio) or name (sysfs) is absent is not present on
/// the board; with a single LED the animator switches to the single-LED encoding (<see cref="LedLegend"/>).
/// </summary>
public sealed record LedOptions
{
    public const string DefaultSysfsRoot = "/sys/class/leds";

    public LedDriverKind Driver { get; init; } = LedDriverKind.None;

    /// <summary>gpiochip number (/dev/gpiochipN). The Pi 4's header is chip 0; so is the Pi 5's on current kernels.</summary>
    public int GpioChip { get; init; }

    public int? GreenPin { get; init; }

    public int? AmberPin { get; init; }

    public int? RedPin { get; init; }

    /// <summary>The LED lights when the pin is low (LED wired from 3V3 to the pin).</summary>
    public bool ActiveLow { get; init; }

    public string SysfsRoot { get; init; } = DefaultSysfsRoot;

    /// <summary>Sysfs LED names per role; when all are absent the driver picks by well-known names.</summary>
    public string? GreenName { get; init; }

    public string? AmberName { get; init; }

    public string? RedName { get; init; }

    internal IReadOnlyDictionary<LedRole, int> GpioPins()
    {
        var pins = new Dictionary<LedRole, int>();
        if (GreenPin is int green) pins[LedRole.Green] = green;
        if (AmberPin is int amber) pins[LedRole.Amber] = amber;
        if (RedPin is int red) pins[LedRole.Red] = red;
        return pins;
    }

    internal IReadOnlyDictionary<LedRole, string> SysfsNames()
    {
        var names = new Dictionary<LedRole, string>();
        if (!string.IsNullOrEmpty(GreenName)) names[LedRole.Green] = GreenName;
        if (!string.IsNullOrEmpty(AmberName)) names[LedRole.Amber] = AmberName;
        if (!string.IsNullOrEmpty(RedName)) names[LedRole.Red] = RedName;
        return names;
    }
}
