namespace EdgeRelay.Appliance.Cloud;

/// <summary>How the last poll ended.</summary>
public enum PollOutcome
{
    /// <summary>Nothing tried yet.</summary>
    None,

    /// <summary>A new document was verified, applied and stored.</summary>
    Applied,

    /// <summary>The cloud answered with what is applied already (a 304, usually).</summary>
    Unchanged,

    /// <summary>The cloud could not be reached, or did not answer with a document (network, TLS, HTTP status, timeout, cut-off body, redirect to http).</summary>
    Unreachable,

    /// <summary>
    /// The cloud's TLS certificate was refused as outside its validity period while this box's clock is in doubt
    /// (not synchronised, or far from the cloud's Date): the clock is wrong, not the cloud (D11, not D2).
    /// </summary>
    ClockWrong,

    /// <summary>A document came but was refused (size, signature, key, version, validation) or could not be applied.</summary>
    Rejected,
}

/// <summary>What the page, /api/status and the report say about the configuration and the cloud.</summary>
/// <param name="Source">"cloud", "last-known-good" (the store, at start-up) or "bootstrap".</param>
public sealed record CloudStatus(
    string Source,
    long Version,
    string Url,
    PollOutcome LastOutcome,
    string? LastProblem,
    DateTimeOffset? LastAttempt,
    DateTimeOffset? LastContact,
    DateTimeOffset? AppliedAt,
    string? SignedBy);
