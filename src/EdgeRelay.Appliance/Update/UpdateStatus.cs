namespace EdgeRelay.Appliance.Update;

/// <summary>Where an update stands, in the words of the status page, /api/status, /metrics and the cloud report.</summary>
public enum UpdatePhase
{
    /// <summary>No update is named, or the named one runs.</summary>
    Idle,
    Downloading,

    /// <summary>Downloaded and installed in the inactive slot; waiting for the window.</summary>
    WaitingForWindow,

    /// <summary>Waiting for calls to end (new allocations go elsewhere).</summary>
    Draining,

    /// <summary>The slot is switched; the relay restarts into it.</summary>
    Switching,

    /// <summary>This process is the new release, not yet healthy: it is rolled back unless it becomes so in time.</summary>
    Trial,

    /// <summary>The named update cannot be installed (signature, hash, version, a failed earlier try): see the problem.</summary>
    Refused,

    /// <summary>Something on the way failed for now (the host, a truncated download): tried again.</summary>
    Retrying,
}

/// <param name="RunningVersion">The version that runs: its slot's manifest's, or the packaged binary's own.</param>
/// <param name="Slot">"a", "b", or null for the packaged binary.</param>
/// <param name="Target">The version the cloud names, if any.</param>
/// <param name="LastFailure">The newest version rolled back on this box, and why.</param>
public sealed record UpdateStatus(string RunningVersion, string? Slot, UpdatePhase Phase, string? Target, long? DownloadedBytes, long? Size,
    string? Problem, FailedRelease? LastFailure)
{
    public static string PhaseName(UpdatePhase phase) => phase switch
    {
        UpdatePhase.Idle => "idle",
        UpdatePhase.Downloading => "downloading",
        UpdatePhase.WaitingForWindow => "waiting-for-window",
        UpdatePhase.Draining => "draining",
        UpdatePhase.Switching => "switching",
        UpdatePhase.Trial => "trial",
        UpdatePhase.Refused => "refused",
        _ => "retrying",
    };
}
