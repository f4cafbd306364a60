using System.Diagnostics;
using System.Globalization;
using EdgeRelay.Appliance.Update;

namespace EdgeRelay;

/// <summary>
/// <c>edgerelay release guard</c>: the <see cref="TrialGuard"/> of one start of a release on trial, as a process of the
/// packaged binary beside it. The slot selector starts it (<see cref="Start"/>) just before it becomes the release by
/// execve(2), so the release is the guard's parent: when the parent changes, the release has ended and the guard
/// ends too. Not for operators; it is in the usage all the same, so that nothing the binary does is hidden.
/// </summary>
internal static class TrialGuardCommand
{
    /// <summary>Starts the guard of <paramref name="trial"/>'s start; null, or why it could not be started (the release's own watch and the start count remain).</summary>
    public static string? Start(string stateDirectory, SlotTrial trial)
    {
        if (Environment.ProcessPath is not { } self)
        {
            return "the path of this binary is unknown";
        }
        var info = new ProcessStartInfo(self) { UseShellExecute = false };
        // This process's PID is the release's after execve: the guard checks that it is still its parent, since a release that
        // ended before the guard looked would leave it a child of init (or of a subreaper), which it must never take for the release.
        foreach (string argument in (string[])["release", "guard", "--state-directory", stateDirectory, "--slot", trial.Slot,
            "--attempt", trial.Attempts.ToString(CultureInfo.InvariantCulture), "--pid", Environment.ProcessId.ToString(CultureInfo.InvariantCulture)])
        {
            info.ArgumentList.Add(argument);
        }
        // The guard is neither the service nor a release.
        UpdateService.NotTheService(info);
        info.Environment.Remove(SlotSelector.SlotVariable);
        info.Environment.Remove(SlotSelector.VersionVariable);
        try
        {
            // Not waited for: after execve its parent is the release, which never asks. A guard that ended stays a zombie
            // until the release ends, one process-table entry.
            using Process? guard = Process.Start(info);
            return guard is null ? "it did not start" : null;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return e.Message;
        }
    }

    public static int Run(string[] args, TextWriter stderr)
    {
        const string command = "release guard";
        bool parsed = ConfigCommands.TryParse(args, 2, ["--state-directory", "--slot", "--attempt", "--pid"], [],
            out Dictionary<string, List<string>> options, out List<string> rest, out string? error);
        if (!parsed || rest.Count > 0 || !options.ContainsKey("--state-directory") || !options.ContainsKey("--slot")
            || !options.TryGetValue("--attempt", out List<string>? attempts) || !int.TryParse(attempts[^1], NumberStyles.None, CultureInfo.InvariantCulture, out int attempt)
            || !options.TryGetValue("--pid", out List<string>? pids) || !int.TryParse(pids[^1], NumberStyles.None, CultureInfo.InvariantCulture, out int release) || release <= 1)
        {
            return ConfigCommands.UsageError(stderr, command, error ?? "--state-directory DIR, --slot SLOT, --attempt N and --pid PID are needed", ReleaseCommands.ReleaseUsage);
        }
        var store = new SlotStore(options["--state-directory"][^1]);
        if (ProcessImage.ParentId() != release || store.Load(out _).Trial is not { } trial || trial.Slot != options["--slot"][^1] || trial.Attempts != attempt)
        {
            // The release ended, or its trial was committed, rolled back or started again, before the guard looked: nothing to guard.
            return ExitCodes.Success;
        }
        // Asked again just before the kill: a PID is only the release's while the release is the guard's parent.
        string? reason = TrialGuard.WatchAsync(store, trial, () => ProcessImage.ParentId() == release,
            () => _ = ProcessImage.ParentId() == release && ProcessImage.KillNow(release), TimeProvider.System, CancellationToken.None).GetAwaiter().GetResult();
        if (reason is not null)
        {
            stderr.WriteLine($"edgerelay: release {trial.Version} in slot {trial.Slot} rolled back to {trial.PreviousVersion ?? "the packaged binary"}: {reason}");
        }
        return ExitCodes.Success;
    }
}
