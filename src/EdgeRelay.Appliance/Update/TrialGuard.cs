namespace EdgeRelay.Appliance.Update;

/// <summary>
/// The deadline of a release on trial, kept outside the release. The release's own watch
/// (<see cref="ReleaseUpdater.StartTrialWatch"/>) commits or rolls back within the trial's health timeout, but it is
/// the new release's code that does so: a release that starts, stays up and never gives a verdict (a hung
/// updater, a bug in its watch) would otherwise hold the box on trial, and block every later update, until
/// something restarted it. So the packaged binary's slot selector, which no update replaces, starts this guard
/// beside every start of a release on trial (<c>edgerelay release guard</c>): when the trial is still the same
/// start after the health timeout and <see cref="Grace"/>, the guard rolls it back and kills the release
/// (SIGKILL, which the unit's Restart= restarts), and the selector then runs the previous slot. Time is
/// measured from this start on the monotonic clock: a box's wall clock jumps when NTP first sets it.
/// </summary>
public static class TrialGuard
{
    /// <summary>
    /// Beyond the health timeout: the release's watch counts from its host's start (after the selector's execve and
    /// the relay's bind), and its last check, a self-probe, takes up to 15 s. Its own verdict says more, so it comes first.
    /// </summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    public static TimeSpan Deadline(SlotTrial trial) => trial.HealthTimeout + Grace;

    /// <summary>
    /// Watches <paramref name="trial"/> (this start of it) until it ends: committed or rolled back by the release, the
    /// release gone (<paramref name="releaseRuns"/>), or the deadline. Returns why it rolled back, or null when it did not.
    /// </summary>
    /// <param name="stopRelease">Ends the release after the rollback is on disk (or could not be written: the next start is counted then).</param>
    public static async Task<string?> WatchAsync(SlotStore store, SlotTrial trial, Func<bool> releaseRuns, Action stopRelease, TimeProvider time,
        CancellationToken cancellationToken)
    {
        long started = time.GetTimestamp();
        TimeSpan deadline = Deadline(trial);
        while (true)
        {
            await Task.Delay(Interval, time, cancellationToken).ConfigureAwait(false);
            if (!releaseRuns() || !trial.IsSameStart(store.Load(out _).Trial))
            {
                return null;
            }
            if (time.GetElapsedTime(started) >= deadline)
            {
                break;
            }
        }
        string reason = $"it gave no verdict within {(int)deadline.TotalSeconds} s of its start {trial.Attempts} (the trial guard stopped it)";
        try
        {
            bool rolledBack = false;
            store.Update(state =>
            {
                // Under the lock: a commit that came at the last moment stands.
                rolledBack = trial.IsSameStart(state.Trial);
                return rolledBack ? SlotSelector.RollBack(state, reason, time) : state;
            });
            if (!rolledBack)
            {
                return null;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            reason += $"; the rollback cannot be written ({e.Message}), so the next start is counted and the selector rolls back after the last";
        }
        stopRelease();
        return reason;
    }
}
