using System.Net.Http.Headers;
using System.Text;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Status;
using Microsoft.Extensions.Logging;

namespace EdgeRelay.Appliance.Update;

/// <summary>The release this process is: its slot (null: the packaged binary) and version.</summary>
public sealed record RunningRelease(string? Slot, string Version);

/// <summary>
/// Takes the box to the release the cloud names (<see cref="UpdateTarget"/>), and watches over a release that
/// was just switched to. For a target: the signed manifest is fetched and checked (a release key's signature,
/// the version the document names, this box's RID, not older than the running version unless a downgrade is
/// allowed, not a version that failed here before); the binary is downloaded into the slot that does not run,
/// with resume, and checked (size, SHA-256, that it runs); after the window and the drain the slot is switched
/// (<see cref="SlotStore.Save"/>, one rename) and the process restarts into it. A release on trial has
/// <see cref="UpdateTarget.HealthTimeout"/> to become healthy; then it is committed, or rolled back.
/// Whatever fails leaves the running release in place, and says why on <see cref="Status"/> and the log.
/// </summary>
public sealed class ReleaseUpdater : IAsyncDisposable
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan MaxRetry = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan HealthRetry = TimeSpan.FromSeconds(3);

    /// <summary>
    /// After a refusal the target is looked at again this much later, then twice as late up to a day: a refusal is final
    /// for these bytes, but a manifest or a binary behind the same URL can be mended (a cache that served a stale file, a
    /// release published by halves), and a fleet that fetched a bad binary every hour would pay for it.
    /// </summary>
    private static readonly TimeSpan FirstRefusedRetry = TimeSpan.FromHours(1);
    private static readonly TimeSpan MaxRefusedRetry = TimeSpan.FromDays(1);

    /// <summary>A binary whose --version times out this many times in a row does not run well enough here: refused.</summary>
    private const int MaxRunTimeouts = 3;

    /// <summary>The reasons that count against a release on trial, and so are recorded at the switch to be excused when the previous release had them.</summary>
    private static readonly StatusReason[] TrialReasons = [StatusReasons.CloudUnreachable, StatusReasons.ConfigurationRejected];

    /// <summary>Room left on the state partition beyond a download: the last good configuration and the logs of a box must still fit.</summary>
    private const long FreeSpaceMargin = 4L * 1024 * 1024;

    private readonly SlotStore _store;
    private readonly RunningRelease _running;
    private readonly string _rid;
    private readonly HttpClient _http;
    private readonly Action<HttpRequestMessage> _authorize;
    private readonly Func<IReadOnlyList<TrustedKey>> _releaseKeys;
    private readonly IUpdateHost _host;
    private readonly StatusModel _model;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private UpdateTarget? _target;
    private CancellationTokenSource? _work;
    private Task _task = Task.CompletedTask;
    private Task _trial = Task.CompletedTask;
    private UpdateStatus _status;
    private int _disposed;
    private int _runTimeouts;

    public ReleaseUpdater(SlotStore store, RunningRelease running, string rid, HttpClient http, Action<HttpRequestMessage> authorize,
        Func<IReadOnlyList<TrustedKey>> releaseKeys, IUpdateHost host, StatusModel model, TimeProvider time, ILogger logger)
    {
        _store = store;
        _running = running;
        _rid = rid;
        _http = http;
        _authorize = authorize;
        _releaseKeys = releaseKeys;
        _host = host;
        _model = model;
        _time = time;
        _logger = logger;
        SlotState state = store.Load(out _);
        _status = new UpdateStatus(running.Version, running.Slot, UpdatePhase.Idle, null, null, null, null, state.Failed.LastOrDefault());
        // A rollback is news until a newer release runs: the version that failed is older than or equal to the running one otherwise.
        _model.Set(StatusReasons.UpdateRolledBack, _status.LastFailure is { } failed && !IsNewer(running.Version, failed.Version));
    }

    public UpdateStatus Status
    {
        get
        {
            lock (_gate)
            {
                return _status;
            }
        }
    }

    /// <summary>Raised after every change of <see cref="Status"/>.</summary>
    public event Action<UpdateStatus>? Changed;

    /// <summary>
    /// When this process is a release on trial: it has the trial's health timeout to become healthy and stay so for a
    /// while (checked every few seconds), then it is committed; otherwise rolled back, and the process restarts.
    /// </summary>
    public void StartTrialWatch()
    {
        SlotState state = _store.Load(out _);
        if (_running.Slot is null || state.Trial is not { } trial || trial.Slot != _running.Slot)
        {
            return;
        }
        SetStatus(s => s with { Phase = UpdatePhase.Trial, Target = trial.Version, Problem = null });
        _model.Raise(StatusReasons.Updating);
        _trial = Task.Run(() => WatchTrialAsync(trial, _stopping.Token));
    }

    private async Task WatchTrialAsync(SlotTrial trial, CancellationToken cancellationToken)
    {
        TimeSpan healthTimeout = trial.HealthTimeout;
        TimeSpan soak = trial.Soak;
        long started = _time.GetTimestamp();
        long? healthySince = null;
        string? problem = "not checked yet";
        try
        {
            while (_time.GetElapsedTime(started) < healthTimeout)
            {
                try
                {
                    problem = NewFault(trial) ?? await _host.CheckHealthAsync(trial.ReasonsAtSwitch ?? [], cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    // A check that throws is a check that did not pass; the trial goes on until its time is up.
                    problem = $"the health check failed: {CloudHttp.Describe(e)}";
                }
                if (problem is not null)
                {
                    healthySince = null;
                }
                else if ((healthySince ??= _time.GetTimestamp()) is { } since && _time.GetElapsedTime(since) >= soak)
                {
                    if (!Commit(trial))
                    {
                        // Healthy, but not on disk, or no longer this start's trial (a damaged slots.json, the guard's rollback): the
                        // selector decides at the next start, which counts as another start of the trial. Not recorded as failed.
                        _host.Restart($"the trial of release {trial.Version} ended without a commit on disk");
                    }
                    return;
                }
                await Task.Delay(HealthRetry, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped while on trial (a reboot, systemctl stop): the next start counts as another start of the trial.
            return;
        }
        problem ??= $"it had passed its checks for less than the {soak.TotalSeconds:0} s it must stay healthy";
        string previous = trial.PreviousVersion ?? "the packaged binary";
        UpdateLog.RollingBack(_logger, trial.Version, trial.Slot, (int)healthTimeout.TotalSeconds, problem, previous);
        try
        {
            _store.Update(state => trial.IsSameStart(state.Trial)
                ? SlotSelector.RollBack(state, $"not healthy within {(int)healthTimeout.TotalSeconds} s: {problem}", _time)
                : state);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The restart still happens: the selector counts it as another start of the trial, and rolls back after the last.
            UpdateLog.RollbackNotSaved(_logger, trial.Version, e.Message);
        }
        _host.Restart($"rolling back release {trial.Version}");
    }

    /// <summary>
    /// A fault this release brought, or the cloud's configuration refused (D6: a release that cannot take the configuration
    /// the box is given is not healthy, whatever it relays); each only when the previous release did not have it at the switch.
    /// </summary>
    private string? NewFault(SlotTrial trial)
    {
        IReadOnlyList<string> excused = trial.ReasonsAtSwitch ?? [];
        return _model.Current.Reasons.FirstOrDefault(r => (r.Severity == Severity.Fault || r == StatusReasons.ConfigurationRejected) && !excused.Contains(r.Code))
            ?.ToString();
    }

    /// <summary>What would count against a release on trial now: recorded at the switch, and excused then.</summary>
    private string[] ReasonsNow() =>
        [.. _model.Current.Reasons.Where(r => r.Severity == Severity.Fault || TrialReasons.Contains(r)).Select(r => r.Code)];

    /// <summary>False when the commit is not on disk: it cannot be written, or the trial is no longer this start's.</summary>
    private bool Commit(SlotTrial trial)
    {
        bool committed = false;
        try
        {
            // A floor this release sets holds from its commit on (the manifest is read again: the slot is what runs).
            string? floor = _store.Verify(trial.Slot, out _)?.Floor;
            // Under slots.json's lock: the trial guard outside this process may be rolling back at the deadline.
            _store.Update(state =>
            {
                committed = trial.IsSameStart(state.Trial);
                return committed
                    ? state with { Trial = null, CurrentVersion = trial.Version, Floor = IsNewer(floor ?? "", state.Floor ?? "") ? floor : state.Floor }
                    : state;
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            UpdateLog.CommitNotSaved(_logger, trial.Version, e.Message);
            return false;
        }
        if (!committed)
        {
            return false;
        }
        UpdateLog.Committed(_logger, trial.Version, trial.Slot, trial.PreviousVersion ?? "the packaged binary");
        _model.Clear(StatusReasons.Updating);
        _model.Clear(StatusReasons.UpdateRolledBack);
        SetStatus(s => s with { Phase = UpdatePhase.Idle, Target = null, Problem = null });
        return true;
    }

    /// <summary>
    /// The target of the configuration in force (null: none). A change cancels work on the previous target
    /// (a half download stays for a later resume); the same target again changes nothing.
    /// </summary>
    public void SetTarget(UpdateTarget? target)
    {
        lock (_gate)
        {
            if (_target == target)
            {
                return;
            }
            _target = target;
            _work?.Cancel();
            _work?.Dispose();
            _work = null;
            if (target is null)
            {
                _host.CancelDrain();
                _status = _status with { Phase = _status.Phase == UpdatePhase.Trial ? UpdatePhase.Trial : UpdatePhase.Idle, Target = null, Problem = null, DownloadedBytes = null, Size = null };
            }
            else
            {
                _work = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                CancellationToken token = _work.Token;
                Task previous = _task;
                _task = Task.Run(async () =>
                {
                    await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    await RunAsync(target, token).ConfigureAwait(false);
                });
            }
        }
        Changed?.Invoke(Status);
    }

    private async Task RunAsync(UpdateTarget target, CancellationToken cancellationToken)
    {
        TimeSpan retry = FirstRetry;
        TimeSpan refusedRetry = FirstRefusedRetry;
        Volatile.Write(ref _runTimeouts, 0);
        try
        {
            // A release on trial proves itself first: a commit lets the target be taken, a rollback restarts the process.
            await _trial.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            cancellationToken.ThrowIfCancellationRequested();
            while (!cancellationToken.IsCancellationRequested)
            {
                Attempt attempt;
                try
                {
                    attempt = await TryAsync(target, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    // A full state partition, a file that cannot be replaced, a bug: said, and tried again, never a silent end
                    // with the LEDs saying "updating" for good. Nothing is switched before the last step, so nothing is half done.
                    _host.CancelDrain();
                    attempt = new Attempt(Outcome.Retry, $"the update stopped: {CloudHttp.Describe(e)}");
                }
                switch (attempt.Outcome)
                {
                    case Outcome.Nothing:
                        SetStatus(s => s with { Phase = s.Phase == UpdatePhase.Trial ? UpdatePhase.Trial : UpdatePhase.Idle, Target = target.Version, Problem = null,
                            DownloadedBytes = null, Size = null });
                        return;
                    case Outcome.Refused:
                        UpdateLog.Refused(_logger, target.Version, _running.Version, attempt.Problem!, (int)refusedRetry.TotalMinutes);
                        SetStatus(s => s with { Phase = UpdatePhase.Refused, Target = target.Version, Problem = attempt.Problem });
                        _model.Clear(StatusReasons.Updating);
                        await Task.Delay(refusedRetry, _time, cancellationToken).ConfigureAwait(false);
                        refusedRetry = refusedRetry * 2 < MaxRefusedRetry ? refusedRetry * 2 : MaxRefusedRetry;
                        break;
                    case Outcome.Switched:
                        return;
                    default:
                        UpdateLog.Retrying(_logger, target.Version, (int)retry.TotalSeconds, attempt.Problem!);
                        SetStatus(s => s with { Phase = UpdatePhase.Retrying, Target = target.Version, Problem = attempt.Problem });
                        _model.Clear(StatusReasons.Updating);
                        await Task.Delay(retry, _time, cancellationToken).ConfigureAwait(false);
                        retry = retry * 2 < MaxRetry ? retry * 2 : MaxRetry;
                        break;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Another target, or none: a drain this target began ends with it (the next target drains again if it must).
            _host.CancelDrain();
            if (_trial.IsCompleted)
            {
                // While this release is on trial, D12 is the trial's, and stays until it is committed.
                _model.Clear(StatusReasons.Updating);
            }
        }
    }

    private enum Outcome
    {
        Nothing,
        Refused,
        Retry,
        Switched,
    }

    private readonly record struct Attempt(Outcome Outcome, string? Problem = null);

    private async Task<Attempt> TryAsync(UpdateTarget target, CancellationToken cancellationToken)
    {
        if (SameVersion(target.Version, _running.Version))
        {
            return new Attempt(Outcome.Nothing);
        }
        SlotState state = _store.Load(out _);
        if (state.Trial is not null)
        {
            // This process is the trial (or its watch is about to restart it): one change at a time.
            return new Attempt(Outcome.Retry, $"release {state.Trial.Version} is still on trial");
        }
        if (!target.AllowDowngrade && !IsNewer(target.Version, _running.Version))
        {
            return new Attempt(Outcome.Refused, $"{target.Version} is older than the running {_running.Version}: set update.allowDowngrade to go back");
        }
        if (state.Floor is { } floor && !IsNewer(target.Version, floor) && !SameVersion(target.Version, floor))
        {
            return new Attempt(Outcome.Refused, $"{target.Version} is below the floor {floor} that a release committed on this box set (its manifest's \"floor\"): no update goes back below it");
        }
        if (state.FailureOf(target.Version) is { } failed)
        {
            return new Attempt(Outcome.Refused, $"{target.Version} was rolled back on this box at {failed.At:u} ({failed.Reason}): publish a newer version");
        }
        if (_host.CannotProve() is { } unprovable)
        {
            // Better said now than after a download, a drain and a switch that could only end in a rollback.
            return new Attempt(Outcome.Refused, $"a new release could not prove itself on this box: {unprovable}");
        }

        // The manifest: small, signed, and naming exactly what the document asked for.
        (string? document, string? fetchProblem) = await FetchManifestAsync(target.ManifestUrl, cancellationToken).ConfigureAwait(false);
        if (document is null)
        {
            return new Attempt(Outcome.Retry, fetchProblem);
        }
        ReleaseManifest? manifest = ReleaseManifest.Verify(document, _releaseKeys(), out string? problem, out string? keyId);
        if (manifest is null)
        {
            return new Attempt(Outcome.Refused, problem);
        }
        if (!SameVersion(manifest.Version, target.Version))
        {
            return new Attempt(Outcome.Refused, $"the manifest at {target.ManifestUrl.GetLeftPart(UriPartial.Path)} is of version {manifest.Version}, not {target.Version}");
        }
        if (manifest.Rid != _rid)
        {
            return new Attempt(Outcome.Refused, $"release {manifest.Version} is built for {manifest.Rid}; this box is {_rid}");
        }
        if (manifest.BinaryUrl(target.ManifestUrl, out problem) is not { } binaryUrl)
        {
            return new Attempt(Outcome.Refused, problem);
        }

        string slot = SlotStore.InactiveSlot(state);
        UpdateLog.Downloading(_logger, manifest.Version, target.ManifestUrl.GetLeftPart(UriPartial.Path), keyId!, slot);
        _model.Raise(StatusReasons.Updating);
        SetStatus(s => s with { Phase = UpdatePhase.Downloading, Target = target.Version, Problem = null, DownloadedBytes = 0, Size = manifest.Size });
        // An earlier try may have got this far (its --version timed out, its switch could not be written): not fetched again.
        bool installed = _store.Verify(slot, out _) is { } inSlot && inSlot.Sha256 == manifest.Sha256 && inSlot.Size == manifest.Size
            && File.ReadAllText(_store.ManifestPath(slot)) == document;
        if (!installed && await DownloadIntoAsync(slot, manifest, document, binaryUrl, cancellationToken).ConfigureAwait(false) is { } notInstalled)
        {
            return notInstalled;
        }
        // Before anything names the slot: a binary of another architecture, or not a binary at all, stops here.
        string? cannotRun;
        try
        {
            cannotRun = await _host.TryRunAsync(_store.BinaryPath(slot), cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e) when (Interlocked.Increment(ref _runTimeouts) < MaxRunTimeouts)
        {
            // A busy box, perhaps: tried again (the binary stays installed), and refused only when it happens again and again.
            return new Attempt(Outcome.Retry, e.Message);
        }
        catch (TimeoutException e)
        {
            cannotRun = $"{e.Message}, {MaxRunTimeouts} times";
        }
        if (cannotRun is not null)
        {
            _store.Prepare(slot, manifest);
            return new Attempt(Outcome.Refused, $"release {manifest.Version} does not run on this box: {cannotRun}");
        }

        if (target.Window is { } window && !window.Contains(_time.GetUtcNow()))
        {
            UpdateLog.WaitingForWindow(_logger, manifest.Version, window.ToString());
        }
        await _host.PrepareToSwitchAsync(target, phase =>
        {
            // Waiting hours for the window is no time to tell a technician "do not unplug"; the drain and the switch are.
            _model.Set(StatusReasons.Updating, phase != UpdatePhase.WaitingForWindow);
            SetStatus(s => s with { Phase = phase });
        }, cancellationToken).ConfigureAwait(false);
        _model.Raise(StatusReasons.Updating);

        // The switch: slots.json names the new slot, on trial, with the way back, the time it has to prove itself, and
        // the faults that are not its doing.
        string[] excused = ReasonsNow();
        bool switched = false;
        _store.Update(now =>
        {
            switched = now.Current == state.Current && now.Trial is null;
            return switched
                ? new SlotState(slot, manifest.Version, new SlotTrial(slot, manifest.Version, now.Current, _running.Version, 0, _time.GetUtcNow(),
                    (int)Math.Ceiling(target.HealthTimeout.TotalSeconds), excused, (int)Math.Ceiling(target.Soak.TotalSeconds)), now.Failed,
                    _running.Slot is null ? _running.Version : now.PackagedVersion, now.Floor) { Unknown = now.Unknown }
                : now;
        });
        if (!switched)
        {
            _host.CancelDrain();
            return new Attempt(Outcome.Retry, "the slots changed while the release was prepared");
        }
        UpdateLog.Switching(_logger, manifest.Version, slot, _running.Version);
        SetStatus(s => s with { Phase = UpdatePhase.Switching });
        _host.Restart($"switching to release {manifest.Version}");
        return new Attempt(Outcome.Switched);
    }

    /// <summary>Downloads the binary into <paramref name="slot"/>, checks it and installs it with its signed manifest; null when it is in place.</summary>
    private async Task<Attempt?> DownloadIntoAsync(string slot, ReleaseManifest manifest, string document, Uri binaryUrl, CancellationToken cancellationToken)
    {
        string part = _store.PartPath(slot, manifest);
        try
        {
            _store.Prepare(slot, manifest);
            if (SpaceProblem(part, manifest) is { } space)
            {
                return new Attempt(Outcome.Retry, space);
            }
            DownloadResult download = await ReleaseDownloader.DownloadAsync(_http, binaryUrl, manifest, part, _authorize,
                bytes => SetStatus(s => s with { DownloadedBytes = bytes }, notify: false), cancellationToken).ConfigureAwait(false);
            if (download.Problem is not null)
            {
                // A hash or a length that is not the manifest's is the release's fault, not the network's: not fetched again.
                return new Attempt(download.Refused ? Outcome.Refused : Outcome.Retry, download.Problem);
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException or UnauthorizedAccessException or TimeoutException
            || e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new Attempt(Outcome.Retry, $"the download stopped: {CloudHttp.Describe(e)} (it resumes at the next try)");
        }
        _store.Install(slot, document, part);
        return null;
    }

    private async Task<(string? Document, string? Problem)> FetchManifestAsync(Uri url, CancellationToken cancellationToken)
    {
        try
        {
            (HttpResponseMessage? answer, string? redirectProblem) = await ReleaseDownloader.SendAsync(_http, url, request =>
            {
                _authorize(request);
                request.Headers.CacheControl = new CacheControlHeaderValue { NoCache = true };
            }, cancellationToken).ConfigureAwait(false);
            if (answer is null)
            {
                return (null, redirectProblem);
            }
            using HttpResponseMessage response = answer;
            if (!response.IsSuccessStatusCode)
            {
                return (null, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase} for the manifest {url.GetLeftPart(UriPartial.Path)}");
            }
            await using Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            byte[] buffer = new byte[ReleaseManifest.MaxDocumentBytes + 1];
            int length = 0;
            int read;
            while (length < buffer.Length
                && (read = await ReleaseDownloader.WithinIdleTimeout(token => body.ReadAsync(buffer.AsMemory(length), token).AsTask(),
                    ReleaseDownloader.IdleTimeout, cancellationToken).ConfigureAwait(false)) > 0)
            {
                length += read;
            }
            return length > ReleaseManifest.MaxDocumentBytes
                ? (null, $"the manifest is larger than {ReleaseManifest.MaxDocumentBytes} bytes")
                : (Encoding.UTF8.GetString(buffer, 0, length), null);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException
            || e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return (null, $"the manifest cannot be fetched: {CloudHttp.Describe(e)}");
        }
    }

    /// <summary>Whether the rest of the download fits on the state partition with room to spare; null when it does.</summary>
    private string? SpaceProblem(string part, ReleaseManifest manifest)
    {
        long have = File.Exists(part) ? new FileInfo(part).Length : 0;
        long free = new DriveInfo(_store.Directory).AvailableFreeSpace;
        long needed = Math.Max(0, manifest.Size - have) + FreeSpaceMargin;
        return free >= needed ? null
            : $"the state partition has {free / (1024 * 1024)} MiB free; release {manifest.Version} needs {needed / (1024 * 1024)} MiB (its {manifest.Size} bytes and a margin)";
    }

    /// <summary>"1.4" and "1.4.0" are one version; text that is not a version is compared as text.</summary>
    private static bool SameVersion(string a, string b) =>
        ReleaseVersion.TryParse(a, out ReleaseVersion x) && ReleaseVersion.TryParse(b, out ReleaseVersion y) ? x.CompareTo(y) == 0 : a == b;

    /// <summary>Whether <paramref name="candidate"/> is a newer version than <paramref name="than"/>; a version that cannot be read is never newer.</summary>
    private static bool IsNewer(string candidate, string than) =>
        ReleaseVersion.TryParse(candidate, out ReleaseVersion a) && (!ReleaseVersion.TryParse(than, out ReleaseVersion b) || a > b);

    private void SetStatus(Func<UpdateStatus, UpdateStatus> change, bool notify = true)
    {
        UpdateStatus next;
        lock (_gate)
        {
            _status = change(_status);
            next = _status;
        }
        if (notify)
        {
            Changed?.Invoke(next);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _trial.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _work?.Dispose();
        _stopping.Dispose();
    }
}
