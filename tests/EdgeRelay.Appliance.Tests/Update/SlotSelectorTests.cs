using EdgeRelay.Appliance.Update;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>
/// The decision at every start: which binary runs. A slot on trial gets <see cref="SlotSelector.MaxTrialStarts"/>
/// counted starts, each on disk before the release runs; what does not verify never runs.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SlotSelectorTests : IDisposable
{
    private static readonly DateTimeOffset Switched = new(2026, 5, 4, 3, 2, 1, TimeSpan.Zero);

    private readonly string _root = Directory.CreateTempSubdirectory("edgerelay-selector-").FullName;
    private readonly ReleaseSigner _signer = new();
    private readonly UpdateClock _clock = new();
    private readonly List<ReadOnlyDirectory> _readOnly = [];
    private readonly SlotStore _store;

    public SlotSelectorTests() => _store = new SlotStore(_root);

    public void Dispose()
    {
        _readOnly.ForEach(d => d.Dispose());
        _signer.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>The packaged binary's own version: older than every release these tests install.</summary>
    private const string PackagedVersion = "1.0.0";

    /// <summary>A start of the packaged binary, with the bootstrap file's release keys, as the service starts it.</summary>
    private SlotChoice Choose(string packagedVersion = PackagedVersion) => SlotSelector.Choose(_store, _clock, packagedVersion, [_signer.Trusted]);

    private static SlotTrial Trial(string slot, string version, string? previous, string? previousVersion, int attempts) =>
        new(slot, version, previous, previousVersion, attempts, Switched);

    /// <summary>The state a switch writes: the slot on trial, no start counted yet.</summary>
    private void SwitchTo(InstalledRelease release, string? previous, string? previousVersion, int attempts = 0, IReadOnlyList<FailedRelease>? failed = null) =>
        _store.Save(new SlotState(release.Slot, release.Manifest.Version, Trial(release.Slot, release.Manifest.Version, previous, previousVersion, attempts), failed ?? []));

    private void MakeStateReadOnly() => _readOnly.Add(ReadOnlyDirectory.Make(_store.Directory));

    private static void Damage(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        file.Position = file.Length / 2;
        int b = file.ReadByte();
        file.Position = file.Length / 2;
        file.WriteByte((byte)~b);
    }

    private void AssertRuns(SlotChoice choice, InstalledRelease release)
    {
        Assert.Equal(release.Slot, choice.Slot);
        Assert.Equal(release.Manifest.Version, choice.Version);
        Assert.Equal(_store.BinaryPath(release.Slot), choice.BinaryPath);
        Assert.Equal(release.Binary, File.ReadAllBytes(choice.BinaryPath!));
    }

    private static void AssertPackaged(SlotChoice choice)
    {
        Assert.Null(choice.Slot);
        Assert.Null(choice.Version);
        Assert.Null(choice.BinaryPath);
    }

    [Fact]
    public void Without_any_state_the_packaged_binary_runs_and_nothing_is_written()
    {
        SlotChoice choice = Choose();

        AssertPackaged(choice);
        Assert.Same(SlotState.Packaged, choice.State);
        Assert.Empty(choice.Notes);
        Assert.False(Directory.Exists(_store.Directory));
    }

    [Fact]
    public void A_committed_slot_runs_its_binary_and_nothing_is_written()
    {
        InstalledRelease a = InstalledRelease.Install(_store, _signer, "a", "1.5.0", seed: 1);
        _store.Save(new SlotState("a", "1.5.0", null, []));
        byte[] before = File.ReadAllBytes(_store.StatePath);
        File.SetLastWriteTimeUtc(_store.StatePath, new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));

        SlotChoice choice = Choose();

        AssertRuns(choice, a);
        Assert.Empty(choice.Notes);
        Assert.Null(choice.State.Trial);
        Assert.Equal(before, File.ReadAllBytes(_store.StatePath));
        Assert.Equal(new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc), File.GetLastWriteTimeUtc(_store.StatePath));
    }

    [Fact]
    public void Each_start_of_a_trial_is_counted_on_disk_before_it_runs_and_after_the_last_the_packaged_binary_runs_again()
    {
        InstalledRelease a = InstalledRelease.Install(_store, _signer, "a", "1.5.0", seed: 2);
        SwitchTo(a, previous: null, previousVersion: "1.4.0");

        for (int start = 1; start <= SlotSelector.MaxTrialStarts; start++)
        {
            SlotChoice choice = Choose();

            AssertRuns(choice, a);
            Assert.Equal(start, choice.State.Trial!.Attempts);
            // On disk before the choice is returned, that is before the release runs.
            SlotState onDisk = _store.Load(out string? problem);
            Assert.Null(problem);
            Assert.Equal(start, onDisk.Trial!.Attempts);
            Assert.Equal("a", onDisk.Current);
            Assert.Empty(onDisk.Failed);
        }

        _clock.Advance(TimeSpan.FromMinutes(1));
        SlotChoice rolledBack = Choose();

        AssertPackaged(rolledBack);
        Assert.Contains(rolledBack.Notes, n => n.Contains("release 1.5.0 in slot a rolled back", StringComparison.Ordinal));
        SlotState state = _store.Load(out _);
        Assert.Null(state.Current);
        Assert.Equal("1.4.0", state.CurrentVersion);
        Assert.Null(state.Trial);
        FailedRelease failed = Assert.Single(state.Failed);
        Assert.Equal("1.5.0", failed.Version);
        Assert.Equal($"it did not become healthy in {SlotSelector.MaxTrialStarts} starts", failed.Reason);
        Assert.Equal(_clock.GetUtcNow(), failed.At);

        // And it stays that way: the failed release never runs again.
        for (int start = 0; start < 5; start++)
        {
            AssertPackaged(Choose());
        }
        Assert.Single(_store.Load(out _).Failed);
    }

    [Fact]
    public void A_trial_that_runs_out_of_starts_goes_back_to_the_previous_slot_keeping_earlier_failures()
    {
        InstalledRelease a = InstalledRelease.Install(_store, _signer, "a", "1.4.0", seed: 3);
        InstalledRelease b = InstalledRelease.Install(_store, _signer, "b", "1.5.0", seed: 4);
        FailedRelease earlier = new("1.4.5", "crashed", Switched.AddDays(-1));
        SwitchTo(b, previous: "a", previousVersion: "1.4.0", attempts: SlotSelector.MaxTrialStarts - 1, failed: [earlier]);

        AssertRuns(Choose(), b); // the last start it gets
        SlotChoice choice = Choose();

        AssertRuns(choice, a);
        SlotState state = _store.Load(out _);
        Assert.Equal(("a", "1.4.0"), (state.Current, state.CurrentVersion));
        Assert.Null(state.Trial);
        Assert.Equal(["1.4.5", "1.5.0"], state.Failed.Select(f => f.Version));
        Assert.Equal(earlier, state.Failed[0]);
        AssertRuns(Choose(), a);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(1000)]
    [InlineData(int.MaxValue)]
    public void A_trial_with_as_many_starts_as_allowed_or_more_is_rolled_back_at_once(int attempts)
    {
        InstalledRelease b = InstalledRelease.Install(_store, _signer, "b", "1.5.0", seed: 5);
        SwitchTo(b, previous: null, previousVersion: "1.4.0", attempts: attempts);

        AssertPackaged(Choose());
        Assert.Equal("1.5.0", Assert.Single(_store.Load(out _).Failed).Version);
    }

    [Fact]
    public void A_damaged_trial_slot_is_rolled_back_at_once_and_its_version_recorded_as_failed()
    {
        InstalledRelease a = InstalledRelease.Install(_store, _signer, "a", "1.4.0", seed: 6);
        InstalledRelease b = InstalledRelease.Install(_store, _signer, "b", "1.5.0", seed: 7);
        SwitchTo(b, previous: "a", previousVersion: "1.4.0");
        Damage(_store.BinaryPath("b"));

        SlotChoice choice = Choose();

        AssertRuns(choice, a);
        Assert.Contains(choice.Notes, n => n.Contains("slot b", StringComparison.Ordinal) && n.Contains("damaged", StringComparison.Ordinal));
        SlotState state = _store.Load(out _);
        Assert.Equal("a", state.Current);
        Assert.Null(state.Trial);
        FailedRelease failed = Assert.Single(state.Failed);
        Assert.Equal("1.5.0", failed.Version);
        Assert.Contains("does not match", failed.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_damaged_trial_slot_with_a_damaged_previous_slot_ends_at_the_packaged_binary()
    {
        InstalledRelease.Install(_store, _signer, "a", "1.4.0", seed: 8);
        InstalledRelease b = InstalledRelease.Install(_store, _signer, "b", "1.5.0", seed: 9);
        SwitchTo(b, previous: "a", previousVersion: "1.4.0", attempts: 1);
        File.Delete(_store.ManifestPath("b"));
        Damage(_store.BinaryPath("a"));

        SlotChoice choice = Choose();

        AssertPackaged(choice);
        Assert.Equal(2, choice.Notes.Count);
        SlotState state = _store.Load(out _);
        Assert.Null(state.Current);
        Assert.Null(state.Trial);
        Assert.Equal("1.5.0", Assert.Single(state.Failed).Version);
    }

    [Fact]
    public void A_damaged_committed_slot_falls_back_to_the_packaged_binary_for_good()
    {
        InstalledRelease.Install(_store, _signer, "a", "1.5.0", seed: 10);
        _store.Save(new SlotState("a", "1.5.0", null, [new FailedRelease("1.4.9", "x", Switched)]));
        using (var file = new FileStream(_store.BinaryPath("a"), FileMode.Open, FileAccess.Write))
        {
            file.SetLength(file.Length - 1); // a truncated binary
        }

        SlotChoice choice = Choose();

        AssertPackaged(choice);
        Assert.Contains(choice.Notes, n => n.Contains("slot a", StringComparison.Ordinal));
        SlotState state = _store.Load(out _);
        Assert.Null(state.Current);
        Assert.Null(state.CurrentVersion);
        Assert.Null(state.Trial);
        // Damage is not a failed release: nothing is added, nothing forgotten.
        Assert.Equal("1.4.9", Assert.Single(state.Failed).Version);
        AssertPackaged(Choose());
    }

    [Fact]
    public void A_committed_slot_without_its_manifest_is_not_run()
    {
        InstalledRelease.Install(_store, _signer, "b", "1.5.0", seed: 11);
        _store.Save(new SlotState("b", "1.5.0", null, []));
        File.Delete(_store.ManifestPath("b"));

        AssertPackaged(Choose());
    }

    [Fact]
    public void A_damaged_slots_json_runs_the_packaged_binary_and_the_notes_say_why()
    {
        InstalledRelease.Install(_store, _signer, "a", "1.5.0", seed: 12);
        Directory.CreateDirectory(_store.Directory);
        File.WriteAllText(_store.StatePath, "{\"format\":1,\"current\":\"a\",");

        SlotChoice choice = Choose();

        AssertPackaged(choice);
        Assert.Contains(choice.Notes, n => n.Contains(_store.StatePath, StringComparison.Ordinal));
    }

    // --- what the slot holds must be a release's ------------------------------------------------------------

    [Fact]
    public void A_slot_whose_manifest_is_not_signed_by_a_release_key_is_never_started()
    {
        // What the relay's user could plant: a binary and a manifest that matches it, signed by a key of its own.
        using var planter = new ReleaseSigner();
        InstalledRelease planted = InstalledRelease.Install(_store, planter, "a", "9.9.9", seed: 40);
        _store.Save(new SlotState("a", "9.9.9", null, []));

        SlotChoice choice = Choose();

        AssertPackaged(choice);
        Assert.Contains(choice.Notes, n => n.Contains("slot a", StringComparison.Ordinal) && n.Contains(planter.Trusted.KeyId, StringComparison.Ordinal));
        // Its hash is right: only the signature tells it from a release.
        Assert.Equal(planted.Manifest, _store.Verify("a", out _));
        Assert.Null(_store.Verify("a", [_signer.Trusted], out _));
    }

    [Fact]
    public void A_slot_manifest_changed_after_signing_is_never_started_even_when_the_binary_matches_it()
    {
        InstalledRelease a = InstalledRelease.Install(_store, _signer, "a", "1.5.0", seed: 41);
        byte[] planted = ReleaseSigner.Binary(a.Binary.Length, 42);
        File.WriteAllBytes(_store.BinaryPath("a"), planted);
        File.WriteAllText(_store.ManifestPath("a"), ReleaseSigner.WithPayload(a.Signed, (a.Manifest with { Sha256 = ReleaseSigner.Sha256Of(planted) }).ToJsonText()));
        _store.Save(new SlotState("a", "1.5.0", null, []));

        AssertPackaged(Choose());
        Assert.Contains("bad signature", _store.Verify("a", [_signer.Trusted], out string? problem) is null ? problem : "", StringComparison.Ordinal);
    }

    // --- a package upgraded past the slot ------------------------------------------------------------------

    [Theory]
    [InlineData("1.6.0", null)] // the package is newer than the slot: it runs
    [InlineData("1.5.0", null)] // as new: the package runs, it is the one installed last
    [InlineData("1.4.0", "a")] // the package was not upgraded since the switch
    [InlineData("1.4.5", "a")] // upgraded, but to a version older than the slot's
    public void A_package_upgraded_since_the_switch_to_a_version_not_older_than_the_slots_runs_instead(string packagedNow, string? runs)
    {
        InstalledRelease.Install(_store, _signer, "a", "1.5.0", seed: 43);
        _store.Save(new SlotState("a", "1.5.0", null, [], PackagedVersion: "1.4.0"));

        SlotChoice choice = Choose(packagedNow);

        Assert.Equal(runs, choice.Slot);
        SlotState state = _store.Load(out _);
        if (runs is null)
        {
            // For good: the state names no slot, and the package's version is remembered.
            Assert.Null(state.Current);
            Assert.Equal(packagedNow, state.PackagedVersion);
            Assert.Contains(choice.Notes, n => n.Contains($"the packaged binary {packagedNow}", StringComparison.Ordinal));
            Assert.Null(Choose(packagedNow).Slot);
        }
        else
        {
            Assert.Equal("a", state.Current);
        }
    }

    [Fact]
    public void A_package_upgrade_does_not_cut_a_trial_short()
    {
        InstalledRelease a = InstalledRelease.Install(_store, _signer, "a", "1.5.0", seed: 44);
        _store.Save(new SlotState("a", "1.5.0", Trial("a", "1.5.0", null, "1.4.0", 0), [], PackagedVersion: "1.4.0"));

        AssertRuns(Choose("1.6.0"), a);
    }

    // --- a state that cannot be written ----------------------------------------------------------------

    [Fact]
    public void A_trial_start_that_cannot_be_counted_does_not_run_the_trial()
    {
        InstalledRelease a = InstalledRelease.Install(_store, _signer, "a", "1.5.0", seed: 13);
        SwitchTo(a, previous: null, previousVersion: "1.4.0", attempts: 1);
        byte[] before = File.ReadAllBytes(_store.StatePath);
        MakeStateReadOnly();

        for (int start = 0; start < 2 * SlotSelector.MaxTrialStarts; start++)
        {
            SlotChoice choice = Choose();

            AssertPackaged(choice);
            Assert.Same(SlotState.Packaged, choice.State);
            Assert.Contains(choice.Notes, n => n.Contains($"cannot write {_store.StatePath}", StringComparison.Ordinal)
                && n.EndsWith("running the packaged binary", StringComparison.Ordinal));
        }
        Assert.Equal(before, File.ReadAllBytes(_store.StatePath));
    }

    [Fact]
    public void A_trial_from_a_previous_slot_that_cannot_be_counted_runs_the_packaged_binary_not_the_trial()
    {
        InstalledRelease.Install(_store, _signer, "a", "1.4.0", seed: 14);
        InstalledRelease b = InstalledRelease.Install(_store, _signer, "b", "1.5.0", seed: 15);
        SwitchTo(b, previous: "a", previousVersion: "1.4.0");
        MakeStateReadOnly();

        SlotChoice choice = Choose();

        Assert.NotEqual("b", choice.Slot);
        AssertPackaged(choice);
    }

    [Fact]
    public void A_committed_slot_runs_even_when_the_state_cannot_be_written()
    {
        InstalledRelease a = InstalledRelease.Install(_store, _signer, "a", "1.5.0", seed: 16);
        _store.Save(new SlotState("a", "1.5.0", null, []));
        MakeStateReadOnly();

        SlotChoice choice = Choose();

        AssertRuns(choice, a);
        Assert.Empty(choice.Notes);
    }

    [Fact]
    public void A_rollback_that_cannot_be_written_still_runs_the_previous_slot_and_is_done_again_at_the_next_start()
    {
        InstalledRelease a = InstalledRelease.Install(_store, _signer, "a", "1.4.0", seed: 17);
        InstalledRelease b = InstalledRelease.Install(_store, _signer, "b", "1.5.0", seed: 18);
        SwitchTo(b, previous: "a", previousVersion: "1.4.0", attempts: SlotSelector.MaxTrialStarts);
        MakeStateReadOnly();

        for (int start = 0; start < 3; start++)
        {
            SlotChoice choice = Choose();
            AssertRuns(choice, a);
            Assert.Contains(choice.Notes, n => n.Contains("cannot write", StringComparison.Ordinal));
        }
        Assert.Equal("b", _store.Load(out _).Trial!.Slot); // still on disk as it was
    }

    [Fact]
    public void A_damaged_committed_slot_is_not_run_even_when_the_fallback_cannot_be_written()
    {
        InstalledRelease.Install(_store, _signer, "a", "1.5.0", seed: 19);
        _store.Save(new SlotState("a", "1.5.0", null, []));
        Damage(_store.BinaryPath("a"));
        MakeStateReadOnly();

        SlotChoice choice = Choose();

        AssertPackaged(choice);
        Assert.Contains(choice.Notes, n => n.Contains("cannot write", StringComparison.Ordinal));
    }

    [Fact]
    public void Rolling_back_without_a_trial_is_a_programming_error()
    {
        Assert.Throws<InvalidOperationException>(() => SlotSelector.RollBack(new SlotState("a", "1.5.0", null, []), "x", _clock));
    }

    [Fact]
    public void A_rollback_records_the_version_reason_and_time_and_returns_to_the_previous_slot()
    {
        var state = new SlotState("b", "1.5.0", Trial("b", "1.5.0", "a", "1.4.0", 1), [new FailedRelease("1.3.0", "r", Switched)]);
        _clock.Advance(TimeSpan.FromHours(5));

        SlotState back = SlotSelector.RollBack(state, "not healthy within 120 s: no listener", _clock);

        Assert.Equal(("a", "1.4.0"), (back.Current, back.CurrentVersion));
        Assert.Null(back.Trial);
        Assert.Equal(new FailedRelease("1.5.0", "not healthy within 120 s: no listener", UpdateClock.Epoch.AddHours(5)), back.Failed[^1]);
        Assert.Equal(2, back.Failed.Count);
    }
}
