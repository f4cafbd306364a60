namespace EdgeRelay.Appliance.Update;

/// <summary>What <see cref="SlotSelector.Choose"/> decided: run <see cref="BinaryPath"/> (null: the packaged binary, this one).</summary>
/// <param name="Notes">What happened on the way, for the log: a rollback, a damaged slot.</param>
public sealed record SlotChoice(string? Slot, string? Version, string? BinaryPath, SlotState State, IReadOnlyList<string> Notes);

/// <summary>
/// The decision at every start of the packaged binary, before anything else: which binary runs. It lives
/// in the packaged binary, which an update never replaces, so no release can take the decision away.
/// A slot on trial (switched to, not yet healthy) gets <see cref="MaxTrialStarts"/> starts: a release that
/// crashes, hangs (the systemd watchdog kills it) or never turns healthy is started again by systemd
/// (Restart=on-failure) and each start is counted here, before the release runs; the start after the
/// last is the packaged binary's or the previous slot's again, and the version is recorded as failed.
/// The count is written before the release starts, so a crash anywhere cannot make a trial endless.
/// </summary>
public static class SlotSelector
{
    /// <summary>
    /// Starts a release on trial gets. With the unit's RestartSec=2s and StartLimitBurst, the rollback comes
    /// before systemd's start limit would stop restarting the service.
    /// </summary>
    public const int MaxTrialStarts = 3;

    /// <summary>Set for the release a slot runs: its slot letter, so that it does not choose again and knows which trial is its own.</summary>
    public const string SlotVariable = "EDGERELAY_SLOT";

    /// <summary>Set with <see cref="SlotVariable"/>: the version of the slot's verified manifest, the version the release runs as.</summary>
    public const string VersionVariable = "EDGERELAY_RELEASE_VERSION";

    /// <param name="packagedVersion">This binary's version: a package upgraded since the last switch to a slot wins over an older slot.</param>
    /// <param name="releaseKeys">The bootstrap file's <c>cloud.releaseKeys</c>: when set, a slot's manifest must be signed by one of them.</param>
    public static SlotChoice Choose(SlotStore store, TimeProvider time, string packagedVersion, IReadOnlyList<Cloud.TrustedKey>? releaseKeys = null)
    {
        var notes = new List<string>();
        SlotState state = store.Load(out string? problem);
        if (problem is not null)
        {
            notes.Add(problem);
        }
        SlotState chosen = state;
        if (state.Trial is { } trial)
        {
            if (trial.Attempts >= MaxTrialStarts)
            {
                chosen = RollBack(state, $"it did not become healthy in {trial.Attempts} starts", time);
                notes.Add($"release {trial.Version} in slot {trial.Slot} rolled back: it did not become healthy in {trial.Attempts} starts");
            }
            else
            {
                chosen = state with { Trial = trial with { Attempts = trial.Attempts + 1 } };
            }
        }
        if (chosen is { Current: { } current, Trial: null } && chosen.PackagedVersion != packagedVersion
            && ReleaseVersion.TryParse(packagedVersion, out ReleaseVersion packaged) && ReleaseVersion.TryParse(chosen.CurrentVersion, out ReleaseVersion inSlot)
            && packaged >= inSlot)
        {
            // The package was upgraded (apt, a new image) past what the cloud installed: the newer binary runs.
            notes.Add($"the packaged binary {packagedVersion} is installed since slot {current}'s {chosen.CurrentVersion} was switched to, and is not older: it runs");
            chosen = chosen with { Current = null, CurrentVersion = null, PackagedVersion = packagedVersion };
        }
        while (chosen.Current is { } slot)
        {
            if (store.Verify(slot, releaseKeys, out string? damaged) is { } manifest)
            {
                return Save(store, state, chosen, new SlotChoice(slot, manifest.Version, store.BinaryPath(slot), chosen, notes));
            }
            notes.Add(damaged!);
            chosen = chosen.Trial is not null
                ? RollBack(chosen, damaged!, time)
                // A committed slot that no longer verifies: the packaged binary runs, which is always whole.
                : chosen with { Current = null, CurrentVersion = null };
        }
        return Save(store, state, chosen, new SlotChoice(null, null, null, chosen, notes));
    }

    /// <summary>Back to the slot the trial came from; the version joins the failed ones.</summary>
    public static SlotState RollBack(SlotState state, string reason, TimeProvider time)
    {
        SlotTrial trial = state.Trial ?? throw new InvalidOperationException("no release is on trial");
        return new SlotState(trial.Previous, trial.PreviousVersion, null, [.. state.Failed, new FailedRelease(trial.Version, reason, time.GetUtcNow())],
            state.PackagedVersion);
    }

    private static SlotChoice Save(SlotStore store, SlotState loaded, SlotState chosen, SlotChoice choice)
    {
        if (ReferenceEquals(loaded, chosen))
        {
            return choice;
        }
        try
        {
            // Before the release starts: a start that is not on disk is a start the trial does not count.
            store.Save(chosen);
            return choice;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string note = $"cannot write {store.StatePath}: {e.Message}";
            // A start that cannot be counted could be one of endless many: a release on trial does not get it.
            return chosen.Trial is null
                ? choice with { Notes = [.. choice.Notes, note] }
                : new SlotChoice(null, null, null, SlotState.Packaged, [.. choice.Notes, note + ": running the packaged binary"]);
        }
    }
}
