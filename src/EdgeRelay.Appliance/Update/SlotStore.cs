using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeRelay.Appliance.Cloud;

namespace EdgeRelay.Appliance.Update;

/// <summary>A version that was tried and rolled back: not tried again until the cloud names a newer one.</summary>
public sealed record FailedRelease(string Version, string Reason, DateTimeOffset At);

/// <summary>
/// A slot that was switched to and has not yet proved itself (READY and healthy): <paramref name="Previous"/> is
/// the slot to go back to (null: the packaged binary), <paramref name="Attempts"/> how many starts it has had.
/// </summary>
/// <param name="HealthTimeoutSeconds">How long each start has to prove itself (update.healthTimeoutSeconds at the switch): the
/// release's own watch and the <see cref="TrialGuard"/> outside it both go by it. 0 in a slots.json written before it was kept.</param>
/// <param name="SoakSeconds">How long it must stay healthy before it is committed (update.soakSeconds at the switch); 0: <see cref="UpdateTarget.DefaultSoak"/>.</param>
/// <param name="ReasonsAtSwitch">The status reasons the previous release had at the switch that would count against a release on trial
/// (faults, D2-cloud-unreachable, D6-configuration-rejected): they are not the new release's doing, and would not go away by rolling
/// back, so they do not count against it.</param>
public sealed record SlotTrial(string Slot, string Version, string? Previous, string? PreviousVersion, int Attempts, DateTimeOffset SwitchedAt,
    int HealthTimeoutSeconds = 0, string[]? ReasonsAtSwitch = null, int SoakSeconds = 0)
{
    /// <summary>Fields a later release wrote that this one does not know: kept as they are when this one rewrites the trial.</summary>
    // set, not init: the source generator passes init-only properties like constructor parameters, which extension data cannot be.
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Unknown { get; set; }

    public TimeSpan HealthTimeout => HealthTimeoutSeconds > 0 ? TimeSpan.FromSeconds(HealthTimeoutSeconds) : UpdateTarget.DefaultHealthTimeout;

    public TimeSpan Soak => SoakSeconds > 0 ? TimeSpan.FromSeconds(SoakSeconds) : UpdateTarget.DefaultSoak(HealthTimeout);

    /// <summary>The same start of the same trial: a later start counts one more attempt, a commit or a rollback ends it.</summary>
    public bool IsSameStart(SlotTrial? other) => other is not null && other.Slot == Slot && other.Version == Version && other.Attempts == Attempts;

    public bool Equals(SlotTrial? other) => other is not null && Slot == other.Slot && Version == other.Version && Previous == other.Previous
        && PreviousVersion == other.PreviousVersion && Attempts == other.Attempts && SwitchedAt == other.SwitchedAt
        && HealthTimeoutSeconds == other.HealthTimeoutSeconds && SoakSeconds == other.SoakSeconds && (ReasonsAtSwitch ?? []).SequenceEqual(other.ReasonsAtSwitch ?? []);

    public override int GetHashCode() => HashCode.Combine(Slot, Version, Previous, PreviousVersion, Attempts, SwitchedAt, HealthTimeoutSeconds);
}

/// <summary>
/// Which binary runs: <see cref="Current"/> is slot "a" or "b", or null for the packaged binary (the one
/// the Debian package or the image installed, which is never overwritten and so always bootable).
/// <see cref="PackagedVersion"/> is the packaged binary's version when a slot was last switched to: a package
/// upgraded since then (apt) is seen by the slot selector. <see cref="Floor"/> is the highest
/// <see cref="ReleaseManifest.Floor"/> of a release committed here: no update goes below it.
/// </summary>
public sealed record SlotState(string? Current, string? CurrentVersion, SlotTrial? Trial, IReadOnlyList<FailedRelease> Failed, string? PackagedVersion = null,
    string? Floor = null)
{
    public static SlotState Packaged { get; } = new(null, null, null, []);

    /// <summary>
    /// Fields of slots.json that a later release wrote and this one does not know: the packaged binary rewrites the file at
    /// every start on trial, and must not drop what a newer release keeps there.
    /// </summary>
    public IReadOnlyDictionary<string, JsonElement>? Unknown { get; init; }

    /// <summary>Whether <paramref name="version"/> failed here before.</summary>
    public FailedRelease? FailureOf(string version) => Failed.LastOrDefault(f => ReleaseVersion.TryParse(f.Version, out ReleaseVersion failed)
        && ReleaseVersion.TryParse(version, out ReleaseVersion asked) ? failed.CompareTo(asked) == 0 : f.Version == version);
}

/// <summary>
/// The two slots a release is installed into, on the state partition (<c>stateDirectory/release</c>):
/// <c>slot-a/</c> and <c>slot-b/</c> each hold a binary and the signed manifest it was installed from, and
/// <c>slots.json</c> says which one runs. A release is downloaded into the slot that does not run,
/// checked, renamed into place, and then the switch is one atomic replacement of <c>slots.json</c>
/// (<see cref="AtomicFile"/>: write, fsync, rename, fsync the directory). A power cut at any moment leaves
/// the old <c>slots.json</c> or the new one, each naming a slot whose binary is complete; a slot that is
/// damaged all the same (the binary's hash no longer matches its manifest) is never started
/// (<see cref="SlotSelector"/>).
/// </summary>
public sealed class SlotStore
{
    public const string BinaryName = "edgerelay";
    public const string ManifestName = "release.jws";
    public const string StateName = "slots.json";
    public const string LockName = "slots.lock";

    /// <summary>How long <see cref="Update"/> waits for another writer (the trial guard, a commit) before it gives up.</summary>
    private static readonly TimeSpan LockWait = TimeSpan.FromSeconds(10);

    /// <summary>How many failed versions are remembered.</summary>
    private const int MaxFailed = 16;

    private static readonly string[] Slots = ["a", "b"];

    public SlotStore(string stateDirectory) => Directory = Path.Combine(stateDirectory, "release");

    public string Directory { get; }

    public string StatePath => Path.Combine(Directory, StateName);

    public string SlotDirectory(string slot) => Path.Combine(Directory, "slot-" + Check(slot));

    public string BinaryPath(string slot) => Path.Combine(SlotDirectory(slot), BinaryName);

    public string ManifestPath(string slot) => Path.Combine(SlotDirectory(slot), ManifestName);

    /// <summary>The download of one release (by its hash): a different release never resumes another's bytes.</summary>
    public string PartPath(string slot, ReleaseManifest manifest) => Path.Combine(SlotDirectory(slot), $"{BinaryName}.{manifest.Sha256[..16]}.part");

    /// <summary>The slot a new release goes into: the one that does not run.</summary>
    public static string InactiveSlot(SlotState state) => state.Current == "a" ? "b" : "a";

    /// <summary>Never throws: a missing file is the packaged binary; a damaged one too, with <paramref name="problem"/>.</summary>
    public SlotState Load(out string? problem)
    {
        problem = null;
        try
        {
            if (!File.Exists(StatePath))
            {
                return SlotState.Packaged;
            }
            SlotRecord? record = JsonSerializer.Deserialize(File.ReadAllBytes(StatePath), SlotJsonContext.Default.SlotRecord);
            if (record is null || record.Format != 1 || record.Current is not (null or "a" or "b")
                || record.Trial is { } t && (t.Slot != record.Current || t.Previous is not (null or "a" or "b") || t.Version is null))
            {
                problem = $"{StatePath} is damaged or of another format: running the packaged binary";
                return SlotState.Packaged;
            }
            return new SlotState(record.Current, record.CurrentVersion, record.Trial,
                record.Failed?.Where(f => f is { Version: not null, Reason: not null }).ToList() ?? [], record.PackagedVersion,
                ReleaseVersion.TryParse(record.Floor, out _) ? record.Floor : null) { Unknown = record.Unknown };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            problem = $"cannot read {StatePath}: {e.Message}: running the packaged binary";
            return SlotState.Packaged;
        }
    }

    /// <summary>
    /// Every change of the state: <paramref name="change"/> gets the state as it is on disk and returns the next one (the
    /// same instance: nothing to write), which is saved. Two processes change slots.json (the relay, and the
    /// <see cref="TrialGuard"/> beside a release on trial), and a change is a read, a decision and a write: each holds
    /// <c>slots.lock</c> (flock(2), which .NET takes for <see cref="FileShare.None"/>) from the read to the rename.
    /// Returns the state as saved. Throws <see cref="IOException"/> when the lock or the write cannot be had.
    /// </summary>
    public SlotState Update(Func<SlotState, SlotState> change) => Update((state, _) => change(state));

    /// <summary>As <see cref="Update(Func{SlotState, SlotState})"/>; <paramref name="change"/> also gets why the file could not be read, if it could not.</summary>
    public SlotState Update(Func<SlotState, string?, SlotState> change)
    {
        System.IO.Directory.CreateDirectory(Directory);
        using FileStream held = Lock();
        // A writer cut off before its rename leaves its temporary file (a power cut in the switch); with the lock held no
        // writer is between its write and its rename, so whatever is left is a leftover.
        AtomicFile.RemoveLeftovers(StatePath);
        SlotState loaded = Load(out string? problem);
        SlotState next = change(loaded, problem);
        if (!ReferenceEquals(next, loaded))
        {
            Save(next);
        }
        return next;
    }

    private FileStream Lock()
    {
        string path = Path.Combine(Directory, LockName);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (File.Exists(path) && System.Diagnostics.Stopwatch.GetElapsedTime(started) < LockWait)
            {
                // Held by the other process for the few milliseconds of a change.
                Thread.Sleep(20);
            }
        }
    }

    /// <summary>One atomic replacement of slots.json; a change of what is on disk goes through <see cref="Update"/>.</summary>
    public void Save(SlotState state)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var record = new SlotRecord(1, state.Current, state.CurrentVersion, state.Trial, state.Failed.TakeLast(MaxFailed).ToList(), state.PackagedVersion,
            state.Floor) { Unknown = state.Unknown?.ToDictionary() };
        AtomicFile.Write(StatePath, JsonSerializer.SerializeToUtf8Bytes(record, SlotJsonContext.Default.SlotRecord));
    }

    /// <summary>
    /// Makes <paramref name="slot"/> ready for a download of <paramref name="manifest"/>: the slot's old binary and
    /// manifest go (the slot does not run, and nothing names it), a partial download of the same release stays.
    /// </summary>
    public void Prepare(string slot, ReleaseManifest manifest)
    {
        string directory = SlotDirectory(slot);
        System.IO.Directory.CreateDirectory(directory);
        File.Delete(BinaryPath(slot));
        File.Delete(ManifestPath(slot));
        string keep = Path.GetFileName(PartPath(slot, manifest));
        foreach (string file in System.IO.Directory.EnumerateFiles(directory))
        {
            if (Path.GetFileName(file) != keep)
            {
                File.Delete(file);
            }
        }
    }

    /// <summary>
    /// Puts a downloaded and verified binary in place in <paramref name="slot"/>: the signed manifest first, then
    /// the binary by a rename, each synced. Until the switch names the slot, nothing runs what is here.
    /// </summary>
    public void Install(string slot, string signedManifest, string partPath)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("slots are a Linux appliance's");
        }
        File.SetUnixFileMode(partPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        AtomicFile.Write(ManifestPath(slot), System.Text.Encoding.UTF8.GetBytes(signedManifest), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        File.Move(partPath, BinaryPath(slot), overwrite: true);
        AtomicFile.SyncDirectory(SlotDirectory(slot));
    }

    /// <summary>
    /// The manifest <paramref name="slot"/> was installed from, when its binary is whole: the size and SHA-256
    /// the manifest names. Null and <paramref name="problem"/> otherwise. Never throws.
    /// </summary>
    public ReleaseManifest? Verify(string slot, out string? problem) => Verify(slot, null, out problem);

    /// <summary>
    /// As <see cref="Verify(string, out string?)"/>, and with <paramref name="releaseKeys"/> the manifest's signature is checked
    /// again: the slots are the relay's user's to write, the keys (in the bootstrap file, root's) are not, so a relay that
    /// was broken into cannot leave a binary of its own to be started.
    /// </summary>
    public ReleaseManifest? Verify(string slot, IReadOnlyList<TrustedKey>? releaseKeys, out string? problem)
    {
        try
        {
            if (!File.Exists(ManifestPath(slot)) || !File.Exists(BinaryPath(slot)))
            {
                problem = $"slot {slot} holds no complete release";
                return null;
            }
            string document = File.ReadAllText(ManifestPath(slot));
            ReleaseManifest? manifest;
            if (releaseKeys is null)
            {
                // The signature was checked when the release was installed; here the question is whether the bytes survived.
                manifest = SignedDocument.TryReadPayloadUnverified(document, out byte[] payload) ? ReleaseManifest.TryParse(payload, out _) : null;
                problem = manifest is null ? $"slot {slot}: its manifest is damaged" : null;
            }
            else
            {
                manifest = ReleaseManifest.Verify(document, releaseKeys, out problem, out _);
                problem = problem is null ? null : $"slot {slot}: {problem}";
            }
            if (manifest is null)
            {
                return null;
            }
            using FileStream stream = File.OpenRead(BinaryPath(slot));
            if (stream.Length != manifest.Size || Convert.ToHexStringLower(SHA256.HashData(stream)) != manifest.Sha256)
            {
                problem = $"slot {slot}: the binary of {manifest.Version} does not match its manifest's size and SHA-256 (damaged)";
                return null;
            }
            problem = null;
            return manifest;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"slot {slot}: {e.Message}";
            return null;
        }
    }

    private static string Check(string slot) =>
        Slots.Contains(slot) ? slot : throw new ArgumentOutOfRangeException(nameof(slot), slot, "a slot is \"a\" or \"b\"");
}

internal sealed record SlotRecord(int Format, string? Current, string? CurrentVersion, SlotTrial? Trial, IReadOnlyList<FailedRelease>? Failed,
    string? PackagedVersion = null, string? Floor = null)
{
    // set, not init: the source generator passes init-only properties like constructor parameters, which extension data cannot be.
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Unknown { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(SlotRecord))]
internal sealed partial class SlotJsonContext : JsonSerializerContext;
