using System.Text;
using EdgeRelay.Appliance.Status;

namespace EdgeRelay.Appliance.Leds;

/// <summary>One row of the LED legend.</summary>
public sealed record LedLegendRow(LedMode Mode, string State, string MultiLed, string SingleLed);

/// <summary>
/// What the LEDs say, for the README and the status page. It describes <see cref="LedPatterns"/>;
/// change both together.
/// </summary>
public static class LedLegend
{
    private static readonly LedLegendRow[] s_rows =
    [
        new(LedMode.Off, "Off: relay not running", "all off", "off"),
        new(LedMode.Starting, "Starting, applying configuration, or updating the software (D12: do not unplug)", "amber blinking, 500 ms on / 500 ms off", "fast even blink, 100 ms on / 100 ms off"),
        new(LedMode.Healthy, "Healthy, no traffic", "green steady", "steady on"),
        new(LedMode.Relaying, "Healthy and relaying", "green on, flickering off (60 ms) with traffic", "steady on, flickering off (60 ms) with traffic"),
        new(LedMode.Degraded, "Degraded (reasons on the status page)", "amber steady", "heartbeat: two 100 ms blinks, then 1.3 s off"),
        new(LedMode.DegradedClock, "Degraded, and the clock is not synchronised (D11)", "amber and green by turns, 1 s each", "on, going dark twice for 100 ms every 3 s"),
        new(LedMode.Fault, "Fault N (1-9)", "red blinks N times (300 ms on / 300 ms off), 1.5 s pause, repeated", "2 s steady on, 2 s off, then N short 80 ms flashes 400 ms apart, 2 s off, repeated"),
        new(LedMode.Identify, "Identify (15 s)", "all LEDs chasing, 150 ms each", "rapid 50 ms flashes"),
    ];

    public static IReadOnlyList<LedLegendRow> Rows() => s_rows;

    /// <summary>The legend as a Markdown table.</summary>
    public static string ToMarkdown()
    {
        var text = new StringBuilder();
        text.Append("| State | Green / amber / red LEDs | Single LED |\n");
        text.Append("|---|---|---|\n");
        foreach (LedLegendRow row in s_rows)
            text.Append("| ").Append(row.State).Append(" | ").Append(row.MultiLed).Append(" | ").Append(row.SingleLed).Append(" |\n");
        return text.ToString();
    }
}
