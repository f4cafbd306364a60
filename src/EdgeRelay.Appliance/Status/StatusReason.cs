namespace EdgeRelay.Appliance.Status;

/// <summary>How bad a reason is: a degraded box still relays; a faulted one cannot do its job.</summary>
public enum Severity
{
    Degraded,
    Fault,
}

/// <summary>
/// One reason why the box is not simply healthy. <see cref="Code"/> is stable (log lines, the page,
/// /api/status, monitoring rules and support calls refer to it) and so is <see cref="BlinkCode"/>: the
/// number of red blinks a fault shows, or 0 for a degraded reason (amber steady says "look at the page").
/// </summary>
public sealed record StatusReason(string Code, Severity Severity, int BlinkCode, string Summary)
{
    public override string ToString() => $"{Code}: {Summary}";
}

/// <summary>
/// Every reason the status model knows, in one place. Codes are never renumbered or reused: a new
/// reason gets a new code. Fault blink codes are small, so that a technician can count them.
/// </summary>
public static class StatusReasons
{
    // Faults: the box cannot relay. The blink code is what the red LED counts out.
    public static readonly StatusReason NoListener = new("F1-no-listener", Severity.Fault, 1,
        "no listener is bound: nothing can reach the relay");
    public static readonly StatusReason InvalidConfiguration = new("F2-invalid-configuration", Severity.Fault, 2,
        "the configuration is invalid and no earlier good one is available");
    public static readonly StatusReason TlsCertificateUnusable = new("F3-tls-certificate-unusable", Severity.Fault, 3,
        "the TLS certificate cannot be used (expired, not yet valid, or unreadable): turns: clients fail");
    public static readonly StatusReason RelayLoopStalled = new("F4-relay-loop-stalled", Severity.Fault, 4,
        "a relay loop stopped making progress");

    // Degraded: the box relays, but something needs attention.
    public static readonly StatusReason ConfigurationStale = new("D1-configuration-stale", Severity.Degraded, 0,
        "running on an old configuration: the newest could not be fetched or applied");
    public static readonly StatusReason CloudUnreachable = new("D2-cloud-unreachable", Severity.Degraded, 0,
        "the configuration endpoint cannot be reached");
    public static readonly StatusReason CertificateExpiring = new("D3-certificate-expiring", Severity.Degraded, 0,
        "the TLS certificate expires within 14 days");
    public static readonly StatusReason QuotaNearlyFull = new("D4-quota-nearly-full", Severity.Degraded, 0,
        "allocations are at 90 % or more of limits.maxAllocations");
    public static readonly StatusReason NeedsConfiguration = new("D5-needs-configuration", Severity.Degraded, 0,
        "no credential and no cloud configuration: the relay refuses everyone until it is configured");

    public static readonly StatusReason ConfigurationRejected = new("D6-configuration-rejected", Severity.Degraded, 0,
        "the cloud's newest configuration was refused (signature, key, version, validation) or could not be applied: running on the last good one");

    // The self-check (selfCheck, RFC 5780): what the network in front of the box does to relayed addresses.
    public static readonly StatusReason ExternalAddressMismatch = new("D7-external-address-mismatch", Severity.Degraded, 0,
        "the relay advertises another address than the public one its self-check found: clients get relayed addresses that peers cannot reach (set relay.externalAddress)");
    public static readonly StatusReason NatUnsuitable = new("D8-nat-unsuitable", Severity.Degraded, 0,
        "the NAT in front of the relay maps each destination to another port (\"symmetric\"): relayed addresses do not work from outside without a 1:1 mapping or port forwarding of the relay's ports");
    public static readonly StatusReason PublicAddressUnverified = new("D9-public-address-unverified", Severity.Degraded, 0,
        "the self-check could not establish the public address: its STUN servers did not answer, or (with externalAddress \"auto\") the NAT's mapping behaviour is unknown");

    // Asked for: the box is being taken out of service without cutting a call.
    public static readonly StatusReason Draining = new("D10-draining", Severity.Degraded, 0,
        "draining: new allocations are sent to the alternate relays (300 Try Alternate) or refused; calls in progress go on");

    // The clock (a Pi has no battery-backed clock): time-stamped things are judged against a time in doubt.
    public static readonly StatusReason ClockUnsynchronised = new("D11-clock-unsynchronised", Severity.Degraded, 0,
        "the clock is not synchronised, or disagrees with the cloud's: TURN REST credentials and TLS certificates may be judged wrongly (the Clock line says why)");

    // Software updates (README, "Updates"): the LEDs say "do not unplug" while one is under way.
    public static readonly StatusReason Updating = new("D12-updating", Severity.Degraded, 0,
        "a software update is being downloaded, installed or proved: do not unplug the box");
    public static readonly StatusReason UpdateRolledBack = new("D13-update-rolled-back", Severity.Degraded, 0,
        "a software update did not become healthy and was rolled back: the previous version runs (the Update line says why)");

    public static IReadOnlyList<StatusReason> All { get; } =
    [
        NoListener, InvalidConfiguration, TlsCertificateUnusable, RelayLoopStalled,
        ConfigurationStale, CloudUnreachable, CertificateExpiring, QuotaNearlyFull, NeedsConfiguration, ConfigurationRejected,
        ExternalAddressMismatch, NatUnsuitable, PublicAddressUnverified, Draining, ClockUnsynchronised, Updating, UpdateRolledBack,
    ];
}
