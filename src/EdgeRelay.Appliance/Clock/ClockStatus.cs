namespace EdgeRelay.Appliance.Clock;

/// <summary>What the box knows about its clock, for the page, /api/status and /metrics.</summary>
/// <param name="State">The kernel's word: synchronised, unsynchronised or unknown.</param>
/// <param name="Trusted">Whether time-stamped things (REST credentials, certificates) can be judged by the local clock.</param>
/// <param name="MaxErrorSeconds">The kernel's maximum error estimate, when adjtimex(2) could be read.</param>
/// <param name="CloudDateOffsetSeconds">The cloud's Date header minus the local clock (positive: the local clock is behind); null before a response.</param>
/// <param name="Source">Where <paramref name="State"/> comes from: "adjtimex" or "systemd-timesyncd".</param>
/// <param name="TimeSource">What TURN REST credentials are judged by: the local clock, or the cloud's Date header when the kernel is not synchronised.</param>
/// <param name="Detail">One sentence an installer can act on.</param>
/// <param name="ClockBlamedForCloudTls">The cloud's TLS certificate was refused for its validity period while the clock was in doubt.</param>
/// <param name="InDoubt">The clock is known to be wrong or unset: D11 is raised.</param>
public sealed record ClockStatus(
    ClockSynchronisation State,
    bool Trusted,
    double? MaxErrorSeconds,
    double? CloudDateOffsetSeconds,
    string Source,
    string TimeSource,
    string Detail,
    bool ClockBlamedForCloudTls,
    DateTimeOffset? CheckedAt,
    bool InDoubt = false);
