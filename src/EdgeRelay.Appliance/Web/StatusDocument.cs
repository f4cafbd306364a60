using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeRelay.Appliance.Web;

/// <summary>What <c>GET /api/status</c> returns, and what the page shows. Names are the JSON contract.</summary>
public sealed record StatusDocument
{
    public required string Health { get; init; }
    public required string Summary { get; init; }
    public required IReadOnlyList<ReasonDocument> Reasons { get; init; }
    public required LedDocument Led { get; init; }
    public required string Version { get; init; }
    public required string Backend { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required long UptimeSeconds { get; init; }
    public required ConfigurationDocument Configuration { get; init; }
    public required IReadOnlyList<ListenerDocument> Listeners { get; init; }
    public required int Allocations { get; init; }
    public required int MaxAllocations { get; init; }
    public required int StreamConnections { get; init; }
    public required IReadOnlyList<TransportDocument> Transports { get; init; }
    public required TrafficDocument Relayed { get; init; }
    public required IReadOnlyList<IceServerDocument> IceServers { get; init; }
    public required IReadOnlyList<CertificateDocument> Certificates { get; init; }
    public required IReadOnlyList<string> LastErrors { get; init; }

    /// <summary>New allocations are sent to <see cref="AlternateServers"/> (or refused), calls in progress go on.</summary>
    public bool Draining { get; init; }

    /// <summary>Where 300 Try Alternate sends new allocations (alternateServers).</summary>
    public IReadOnlyList<string> AlternateServers { get; init; } = [];

    /// <summary>The self-check of the network in front of the box; null when <c>selfCheck</c> is not configured.</summary>
    public SelfCheckDocument? SelfCheck { get; init; }

    /// <summary>Whether the clock can be trusted (a Pi has no battery-backed clock); null when the box does not check it.</summary>
    public ClockDocument? Clock { get; init; }

    /// <summary>The software: the release that runs and where an update stands; null when the box takes no updates (no cloud).</summary>
    public UpdateDocument? Update { get; init; }
}

/// <summary>
/// The release that runs (<paramref name="RunningVersion"/>, its <paramref name="Slot"/>: "a", "b", or null for the
/// packaged binary), the <paramref name="Phase"/> of an update (idle, downloading, waiting-for-window, draining,
/// switching, trial, refused, retrying) towards <paramref name="Target"/>, why it stopped, and the last rollback.
/// </summary>
public sealed record UpdateDocument(string RunningVersion, string? Slot, string Phase, string? Target, long? DownloadedBytes, long? Size,
    string? Problem, FailedReleaseDocument? LastFailure);

public sealed record FailedReleaseDocument(string Version, string Reason, DateTimeOffset At);

/// <summary>
/// The clock: the kernel's <paramref name="State"/> ("synchronised", "unsynchronised", "unknown"), whether it is
/// <paramref name="Trusted"/>, the kernel's maximum error, the cloud's Date header minus the local clock (positive:
/// the local clock is behind), where the state comes from ("adjtimex", "systemd-timesyncd"), what TURN REST
/// credentials are judged by ("local" or "cloud-date"), and a sentence to act on.
/// </summary>
public sealed record ClockDocument(string State, bool Trusted, double? MaxErrorSeconds, double? CloudDateOffsetSeconds, string Source,
    string TimeSource, string Detail, DateTimeOffset? CheckedAt);

/// <summary>
/// The last self-check (null <see cref="CheckedAt"/> before the first one ends): its verdict, what to change,
/// the public address the STUN servers saw, the address the relay advertises now, and the probe's findings.
/// </summary>
/// <param name="DetectedExternalAddress">With <c>externalAddress: "auto"</c>, the address the check vouched for; null when it did not.</param>
public sealed record SelfCheckDocument(DateTimeOffset? CheckedAt, string Verdict, IReadOnlyList<string> Advice, string? PublicAddress,
    string? AdvertisedAddress, string? DetectedExternalAddress, string? Mapping, string? Filtering, string? Servers, IReadOnlyList<FindingDocument> Findings);

public sealed record FindingDocument(string Name, string Value, string Detail);

public sealed record ReasonDocument(string Code, string Severity, int BlinkCode, string Summary);

/// <summary>What the LEDs show, and which LEDs (green, amber, red) are driven: none when they cannot be used.</summary>
public sealed record LedDocument(string Mode, int FaultCode, IReadOnlyList<string> Outputs);

/// <summary>
/// Where the running configuration came from (a file path, "development default", "cloud" or
/// "last-known-good") and its version; <see cref="Cloud"/> when the box pulls it from the cloud.
/// </summary>
public sealed record ConfigurationDocument(string Source, long? Version, CloudDocument? Cloud);

/// <summary>The cloud puller's last poll: outcome None, Applied, Unchanged, Unreachable or Rejected, and why.</summary>
public sealed record CloudDocument(string Url, string LastOutcome, string? LastProblem, DateTimeOffset? LastAttempt,
    DateTimeOffset? LastContact, DateTimeOffset? AppliedAt, string? SignedBy);

public sealed record ListenerDocument(string Transport, string Endpoint);

/// <summary>Allocations and connections of clients that reach the relay over one transport.</summary>
public sealed record TransportDocument(string Transport, int Allocations, int Connections);

public sealed record TrafficDocument(long PacketsToPeers, long PacketsFromPeers, long BytesToPeers, long BytesFromPeers,
    double PacketsPerSecond, double BytesPerSecond);

/// <summary>One RTCIceServer entry; credentials are never shown, the admin fills them in.</summary>
public sealed record IceServerDocument(IReadOnlyList<string> Urls);

public sealed record CertificateDocument(string Subject, DateTimeOffset NotAfter, double DaysLeft);

public sealed record ActionResult(string Result);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false)]
[JsonSerializable(typeof(StatusDocument))]
[JsonSerializable(typeof(ActionResult))]
[JsonSerializable(typeof(SelfCheckDocument))]
internal sealed partial class StatusJsonContext : JsonSerializerContext;
