using EdgeRelay.Appliance.Update;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>
/// The deadline outside the release: a start of a release on trial that neither commits nor rolls back by its health
/// timeout and the grace is rolled back by the guard and stopped; a trial that ended any other way is left alone.
/// The release is played by the test (whether it runs, and a record of its stop); slots.json is real.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class TrialGuardTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("edgerelay-guard-").FullName;
    private readonly ReleaseSigner _signer = new();
    private readonly UpdateClock _clock = new();
    private readonly SlotStore _store;
    private readonly SlotTrial _trial;
    private readonly List<ReadOnlyDirectory> _readOnly = [];
    private int _stops;
    private bool _runs = true;

    public TrialGuardTests()
    {
        _store = new SlotStore(_root);
        InstalledRelease.Install(_store, _signer, "b", "1.4.0", seed: 1);
        InstalledRelease.Install(_store, _signer, "a", "1.5.0", seed: 2);
        _trial = new SlotTrial("a", "1.5.0", "b", "1.4.0", 2, UpdateClock.Epoch, 40, []);
        _store.Save(new SlotState("a", "1.5.0", _trial, []));
    }

    public void Dispose()
    {
        _readOnly.ForEach(d => d.Dispose());
        _signer.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private Task<string?> Guard() =>
        Task.Run(() => TrialGuard.WatchAsync(_store, _trial, () => Volatile.Read(ref _runs), () => Interlocked.Increment(ref _stops), _clock, CancellationToken.None));

    [Fact]
    public async Task A_start_that_gives_no_verdict_by_the_deadline_is_rolled_back_and_stopped()
    {
        long started = _clock.GetTimestamp();
        Task<string?> guard = Guard();

        Assert.True(await _clock.AdvanceUntilAsync(() => guard.IsCompleted));

        Assert.Equal(TimeSpan.FromSeconds(70), TrialGuard.Deadline(_trial)); // 40 s and the grace
        Assert.True(_clock.GetElapsedTime(started) >= TimeSpan.FromSeconds(70), $"stopped after {_clock.GetElapsedTime(started)}");
        string? reason = await guard;
        Assert.Equal("it gave no verdict within 70 s of its start 2 (the trial guard stopped it)", reason);
        Assert.Equal(1, _stops);
        SlotState state = _store.Load(out _);
        Assert.Equal(("b", "1.4.0", null), (state.Current, state.CurrentVersion, state.Trial));
        Assert.Equal(("1.5.0", reason), (Assert.Single(state.Failed).Version, state.Failed[0].Reason));
        // The start after the kill runs the previous slot.
        Assert.Equal("b", SlotSelector.Choose(_store, _clock, "1.0.0", [_signer.Trusted]).Slot);
    }

    [Fact]
    public async Task A_trial_committed_in_time_is_left_alone()
    {
        Task<string?> guard = Guard();
        _clock.Advance(TimeSpan.FromSeconds(20));
        _store.Update(s => s with { Trial = null });

        Assert.True(await _clock.AdvanceUntilAsync(() => guard.IsCompleted));

        Assert.Null(await guard);
        Assert.Equal(0, _stops);
        Assert.Equal(("a", null), (_store.Load(out _).Current, _store.Load(out _).Trial));
    }

    [Fact]
    public async Task A_release_that_ended_or_a_later_start_of_the_trial_ends_the_guard_without_a_word()
    {
        Task<string?> guard = Guard();
        _clock.Advance(TimeSpan.FromSeconds(5));
        Volatile.Write(ref _runs, false);
        Assert.True(await _clock.AdvanceUntilAsync(() => guard.IsCompleted));
        Assert.Null(await guard);

        Volatile.Write(ref _runs, true);
        guard = Guard();
        // The next start is counted (a crash and a restart): this guard's start is over, the new one has its own.
        _store.Update(s => s with { Trial = s.Trial! with { Attempts = 3 } });
        Assert.True(await _clock.AdvanceUntilAsync(() => guard.IsCompleted));
        Assert.Null(await guard);

        Assert.Equal(0, _stops);
        Assert.Equal(3, _store.Load(out _).Trial!.Attempts);
    }

    [Fact]
    public async Task A_rollback_that_cannot_be_written_still_stops_the_release_so_that_the_next_start_is_counted()
    {
        _readOnly.Add(ReadOnlyDirectory.Make(_store.Directory));
        Task<string?> guard = Guard();

        Assert.True(await _clock.AdvanceUntilAsync(() => guard.IsCompleted));

        Assert.Contains("the rollback cannot be written", await guard, StringComparison.Ordinal);
        Assert.Equal(1, _stops);
        Assert.Equal(2, _store.Load(out _).Trial!.Attempts);
    }
}
