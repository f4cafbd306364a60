namespace EdgeRelay.Appliance.Update;

/// <summary>What <see cref="SlotSelector.Choose"/> decided: run <see cref="BinaryPath"/> (null: the packaged binary, this one).</summary>
/// <param name="Notes">What happened on the way, for the log: a rollback, a damaged slot.</param>
public sealed record SlotChoice(string? Slot, string? Version, string? BinaryPath, SlotState State, IReadOnlyList<string> Notes);

/// <summary>
/// The decision at every start of the packaged binary, before anything else: which binary runs. It lives
/// in the packaged binary, which an update never replaces, so no release can take the decision away.
/// A slot on trial (switched to, not yet healthy) gets <see cref="MaxTrialStarts"/> starts: a release that
/// crashes, hangs (the systemd watchdog kills it) or gives no verdict in time (its <see cref="TrialGuard"/>
/// kills it) is started again by systemd (Restart=always) and each start is counted here, before the release
/// runs; the start after the last is the packaged binary's or the previous slot's again, and the version is
/// recorded as failed. The count is written before the release starts, so a crash anywhere cannot make a trial endless.
/// </summary>
public static class SlotSelector
{
    /// <summary>Starts a release on trial gets: one crash can be bad luck (a power cut), three are the release's.</summary>
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
        if (!File.Exists(store.StatePath))
        {
            // No update ever switched a slot here: nothing to decide, and nothing is written (not even the lock).
            return new SlotChoice(null, null, null, SlotState.Packaged, notes);
        }
        SlotChoice? choice = null;
        try
        {
            // Decided and counted under the lock: the trial guard of an earlier start may be rolling back at this moment.
            store.Update((state, problem) =>
            {
                choice = Decide(store, state, problem, time, packagedVersion, releaseKeys, notes);
                return choice.State;
            });
            return choice!;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string note = $"cannot write {store.StatePath}: {e.Message}";
            if (choice is null)
            {
                // Not even the lock (a read-only state partition): decided on what is there, and nothing can be counted.
                notes.Clear();
                SlotState loaded = store.Load(out string? problem);
                choice = Decide(store, loaded, problem, time, packagedVersion, releaseKeys, notes);
                if (ReferenceEquals(choice.State, loaded))
                {
                    // Nothing needed writing: a committed slot, or the packaged binary, runs as it would have.
                    return choice;
                }
            }
            // A start that cannot be counted could be one of endless many: a release on trial does not get it.
            return choice.State.Trial is not null
                ? new SlotChoice(null, null, null, SlotState.Packaged, [.. notes, note + ": running the packaged binary"])
                : choice with { Notes = [.. notes, note] };
        }
    }

    /// <summary>The decision on the state as loaded; its <see cref="SlotChoice.State"/> is that same instance when nothing is to be written.</summary>
    private static SlotChoice Decide(SlotStore store, SlotState state, string? problem, TimeProvider time, string packagedVersion,
        IReadOnlyList<Cloud.TrustedKey>? releaseKeys, List<string> notes)
    {
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
                return new SlotChoice(slot, manifest.Version, store.BinaryPath(slot), chosen, notes);
            }
            notes.Add(damaged!);
            chosen = chosen.Trial is not null
                ? RollBack(chosen, damaged!, time)
                // A committed slot that no longer verifies: the packaged binary runs, which is always whole.
                : chosen with { Current = null, CurrentVersion = null };
        }
        return new SlotChoice(null, null, null, chosen, notes);
    }

    /// <summary>Back to the slot the trial came from; the version joins the failed ones.</summary>
    public static SlotState RollBack(SlotState state, string reason, TimeProvider time)
    {
        SlotTrial trial = state.Trial ?? throw new InvalidOperationException("no release is on trial");
        return new SlotState(trial.Previous, trial.PreviousVersion, null, [.. state.Failed, new FailedRelease(trial.Version, reason, time.GetUtcNow())],
            state.PackagedVersion, state.Floor) { Unknown = state.Unknown };
    }
}
