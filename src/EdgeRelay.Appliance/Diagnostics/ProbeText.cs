using System.Globalization;
using System.Text;

namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>How the probe's results read on a terminal: one aligned line per step, then the verdict.</summary>
public static class ProbeText
{
    public static string Milliseconds(double value) =>
        value.ToString(value < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture) + " ms";

    public static string Seconds(TimeSpan value) => value.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    /// <summary><c>PASS  allocate          12 ms  relayed 127.0.0.1:49876, lifetime 600 s</c></summary>
    public static string Line(ProbeStep step)
    {
        string outcome = step.Outcome switch
        {
            ProbeOutcome.Pass => "PASS",
            ProbeOutcome.Fail => "FAIL",
            _ => "SKIP",
        };
        string duration = step.Outcome == ProbeOutcome.Skipped
            ? "     -   "
            : ((long)Math.Round(step.Duration.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture).PadLeft(6) + " ms";
        return $"{outcome}  {step.Name,-14}{duration}  {step.Detail}";
    }

    public static string Format(TurnProbeReport report)
    {
        var text = new StringBuilder();
        foreach (ProbeStep step in report.Steps)
        {
            text.AppendLine(Line(step));
        }
        text.AppendLine(report.Verdict);
        return text.ToString();
    }

    /// <summary>
    /// Text that came from the server (a reason phrase, SOFTWARE), made safe to print: no control
    /// characters (a hostile server must not drive the terminal), and not too long.
    /// </summary>
    public static string FromServer(ReadOnlySpan<byte> utf8, int maxLength = 80)
    {
        string text = Encoding.UTF8.GetString(utf8);
        var clean = new StringBuilder(Math.Min(text.Length, maxLength));
        foreach (char c in text)
        {
            if (clean.Length == maxLength)
            {
                clean.Append('…');
                break;
            }
            clean.Append(char.IsControl(c) || c == '\uFFFD' ? '?' : c);
        }
        return clean.ToString().Trim();
    }
}
