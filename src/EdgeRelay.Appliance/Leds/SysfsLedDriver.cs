using System.Globalization;

namespace EdgeRelay.Appliance.Leds;

/// <summary>
/// LEDs the kernel exposes as <c>&lt;root&gt;/&lt;name&gt;/{brightness,max_brightness,trigger}</c>, such as
/// the Pi's own ACT and PWR LEDs. It takes each LED from its kernel trigger (writes "none") and gives
/// it back on <see cref="Dispose"/>. Even blinks go to the kernel's "timer" trigger, so the process
/// does not wake up for them.
/// </summary>
public sealed class SysfsLedDriver : ILedDriver
{
    private sealed class Led(LedRole role, string directory, string onValue, string originalTrigger, bool hasTimer)
    {
        public LedRole Role { get; } = role;
        public string Directory { get; } = directory;
        public string OnValue { get; } = onValue;
        public string OriginalTrigger { get; } = originalTrigger;
        public bool HasTimer { get; } = hasTimer;
        public bool Blinking { get; set; }
    }

    // Well-known names first (the Pi's firmware and kernels name them ACT/PWR, older ones led0/led1),
    // then the kernel's "device:color:function" convention.
    private static readonly (LedRole Role, string[] Names, string[] Colors)[] s_wellKnown =
    [
        (LedRole.Green, ["ACT", "led0"], ["green"]),
        (LedRole.Amber, [], ["amber", "yellow", "orange"]),
        (LedRole.Red, ["PWR", "led1"], ["red"]),
    ];

    private readonly Led[] _leds;
    private readonly LedRole[] _roles;
    private bool _disposed;

    private SysfsLedDriver(Led[] leds)
    {
        _leds = leds;
        _roles = [.. leds.Select(led => led.Role)];
        foreach (Led led in _leds)
        {
            WriteFile(led, "trigger", "none");
            WriteFile(led, "brightness", "0");
        }
    }

    /// <summary>
    /// Opens the LEDs under <paramref name="root"/>: the named ones, or when no name is given, the
    /// ones found by well-known name.
    /// </summary>
    public static SysfsLedDriver Open(string root, IReadOnlyDictionary<LedRole, string>? names = null)
    {
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException($"leds: the LED directory '{root}' does not exist (is this a board with kernel LEDs? set leds.sysfsRoot or use another driver).");

        IReadOnlyDictionary<LedRole, string> chosen = names is { Count: > 0 } ? names : Discover(root);
        if (chosen.Count == 0)
            throw new InvalidOperationException($"leds: no LED found under '{root}' by the names ACT, led0, PWR, led1 or a green/amber/red colour; name them with leds.greenName, leds.amberName, leds.redName.");

        var leds = new List<Led>();
        foreach ((LedRole role, string name) in chosen.OrderBy(pair => pair.Key))
        {
            string directory = Path.Combine(root, name);
            if (!File.Exists(Path.Combine(directory, "brightness")))
                throw new InvalidOperationException($"leds: '{directory}' is not an LED (it has no brightness file).");
            string onValue = ReadOrDefault(Path.Combine(directory, "max_brightness"), "1");
            if (!int.TryParse(onValue, NumberStyles.None, CultureInfo.InvariantCulture, out int max) || max <= 0)
                onValue = "1";
            string triggers = ReadOrDefault(Path.Combine(directory, "trigger"), "none");
            leds.Add(new Led(role, directory, onValue, CurrentTrigger(triggers), HasTrigger(triggers, "timer")));
        }
        return new SysfsLedDriver([.. leds]);
    }

    public IReadOnlyList<LedRole> Roles => _roles;

    /// <summary>The LED directory chosen for each role.</summary>
    public IReadOnlyDictionary<LedRole, string> Directories => _leds.ToDictionary(led => led.Role, led => led.Directory);

    public void Set(LedRole role, bool on)
    {
        Led? led = Find(role);
        if (led is null) return;
        if (led.Blinking)
        {
            WriteFile(led, "trigger", "none");
            led.Blinking = false;
        }
        WriteFile(led, "brightness", on ? led.OnValue : "0");
    }

    public bool TryBlink(LedRole role, TimeSpan on, TimeSpan off)
    {
        Led? led = Find(role);
        if (led is null || !led.HasTimer) return false;
        // Brightness first: the timer trigger blinks at the current brightness, or full when dark.
        WriteFile(led, "brightness", led.OnValue);
        WriteFile(led, "trigger", "timer");
        // delay_on/delay_off exist once the timer trigger is active.
        WriteFile(led, "delay_on", Milliseconds(on));
        WriteFile(led, "delay_off", Milliseconds(off));
        led.Blinking = true;
        return true;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (Led led in _leds)
        {
            WriteFile(led, "trigger", "none");
            WriteFile(led, "brightness", "0");
            if (led.OriginalTrigger != "none")
                WriteFile(led, "trigger", led.OriginalTrigger);
        }
    }

    internal static Dictionary<LedRole, string> Discover(string root)
    {
        string[] names = [.. Directory.EnumerateFileSystemEntries(root)
            .Where(path => File.Exists(Path.Combine(path, "brightness")))
            .Select(Path.GetFileName)
            .OfType<string>()
            .Order(StringComparer.Ordinal)];

        var chosen = new Dictionary<LedRole, string>();
        foreach ((LedRole role, string[] wellKnown, string[] colors) in s_wellKnown)
        {
            string? name = wellKnown.Select(known => names.FirstOrDefault(n => n.Equals(known, StringComparison.OrdinalIgnoreCase))).FirstOrDefault(n => n is not null)
                ?? names.FirstOrDefault(n => HasColor(n, colors));
            if (name is not null && !chosen.ContainsValue(name))
                chosen[role] = name;
        }
        return chosen;
    }

    // The kernel names LEDs "devicename:color:function", or "color:function" without a device
    // (Documentation/leds/leds-class.rst); a colour can be any part but the last.
    private static bool HasColor(string name, string[] colors)
    {
        string[] parts = name.Split(':');
        return parts[..^1].Any(part => colors.Contains(part, StringComparer.OrdinalIgnoreCase));
    }

    /// <summary>The kernel lists the triggers and shows the active one in [brackets].</summary>
    internal static string CurrentTrigger(string triggers)
    {
        foreach (string token in triggers.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (token.Length > 2 && token[0] == '[' && token[^1] == ']')
                return token[1..^1];
        }
        return "none";
    }

    private static bool HasTrigger(string triggers, string trigger) =>
        triggers.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Any(token => token.Trim('[', ']') == trigger);

    private Led? Find(LedRole role) => Array.Find(_leds, led => led.Role == role);

    private static string Milliseconds(TimeSpan span) =>
        ((long)Math.Round(span.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture);

    private static string ReadOrDefault(string path, string fallback) =>
        File.Exists(path) ? File.ReadAllText(path).Trim() : fallback;

    // sysfs attributes take one write each; WriteAllText opens, writes and closes.
    private static void WriteFile(Led led, string attribute, string value) =>
        File.WriteAllText(Path.Combine(led.Directory, attribute), value);
}
