namespace EdgeRelay.Appliance.Diagnostics;

public enum ProbeOutcome
{
    Pass,
    Fail,
    Skipped,
}

/// <summary>One step of the probe: what it did, how it ended, how long it took, and a line for the operator.</summary>
public sealed record ProbeStep(string Name, ProbeOutcome Outcome, TimeSpan Duration, string Detail);

/// <summary>The relayed echo round trips (step <c>echo</c>): RTT percentiles in milliseconds, null when nothing came back.</summary>
public sealed record EchoStatistics(int Sent, int Received, double? P50Milliseconds, double? P99Milliseconds, double? MaxMilliseconds)
{
    public int Lost => Sent - Received;

    /// <summary>Nearest-rank percentiles of the measured round trips.</summary>
    public static EchoStatistics From(int sent, IReadOnlyList<double> roundTripsMilliseconds)
    {
        if (roundTripsMilliseconds.Count == 0)
        {
            return new EchoStatistics(sent, 0, null, null, null);
        }
        double[] sorted = [.. roundTripsMilliseconds.Order()];
        return new EchoStatistics(sent, sorted.Length, Percentile(sorted, 50), Percentile(sorted, 99), sorted[^1]);
    }

    private static double Percentile(double[] sorted, int percent) =>
        sorted[Math.Clamp((int)Math.Ceiling(percent / 100.0 * sorted.Length) - 1, 0, sorted.Length - 1)];
}

/// <summary>Everything the probe found: the steps in order (the ones after a failure are skipped) and the echo figures.</summary>
public sealed record TurnProbeReport(TurnUrl Server, string Username, IReadOnlyList<ProbeStep> Steps, EchoStatistics? Echo)
{
    public bool Passed => Steps.Count > 0 && Steps.All(s => s.Outcome == ProbeOutcome.Pass);

    public ProbeStep? FirstFailure => Steps.FirstOrDefault(s => s.Outcome == ProbeOutcome.Fail);

    /// <summary>The one-line verdict.</summary>
    public string Verdict
    {
        get
        {
            if (FirstFailure is { } failed)
            {
                return $"FAIL: {Server} failed at {failed.Name}: {failed.Detail}";
            }
            string rtt = Echo is { P50Milliseconds: { } p50, P99Milliseconds: { } p99 }
                ? $", RTT p50 {ProbeText.Milliseconds(p50)}, p99 {ProbeText.Milliseconds(p99)}"
                : string.Empty;
            return $"PASS: {Server} relays between two of its own allocations ({Echo?.Received ?? 0} of {Echo?.Sent ?? 0} echoes{rtt})";
        }
    }
}
