using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeRelay.Appliance.Diagnostics;

/// <summary>The body of <c>POST /api/probe</c>: credentials used for this one run, never stored or logged.</summary>
public sealed record ProbeRequestDocument
{
    public string? User { get; init; }
    public string? Password { get; init; }

    /// <summary>Echo round trips; 20 when absent.</summary>
    public int? Count { get; init; }
}

public sealed record ProbeStepDocument(string Name, string Outcome, double DurationMs, string Detail);

public sealed record ProbeEchoDocument(int Sent, int Received, int Lost, double? P50Ms, double? P99Ms, double? MaxMs);

/// <summary>What <c>POST /api/probe</c> answers: the same steps and verdict as <c>edgerelay probe turn</c> prints.</summary>
public sealed record ProbeResultDocument(bool Passed, string Server, string Verdict, IReadOnlyList<ProbeStepDocument> Steps, ProbeEchoDocument? Echo)
{
    public static ProbeResultDocument From(TurnProbeReport report) => new(
        report.Passed,
        report.Server.ToString(),
        report.Verdict,
        report.Steps.Select(s => new ProbeStepDocument(s.Name, s.Outcome.ToString().ToLowerInvariant(), Math.Round(s.Duration.TotalMilliseconds, 1), s.Detail)).ToList(),
        report.Echo is { } echo
            ? new ProbeEchoDocument(echo.Sent, echo.Received, echo.Lost, Round(echo.P50Milliseconds), Round(echo.P99Milliseconds), Round(echo.MaxMilliseconds))
            : null);

    private static double? Round(double? value) => value is { } v ? Math.Round(v, 3) : null;
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(ProbeRequestDocument))]
[JsonSerializable(typeof(ProbeResultDocument))]
internal sealed partial class ProbeJsonContext : JsonSerializerContext;
