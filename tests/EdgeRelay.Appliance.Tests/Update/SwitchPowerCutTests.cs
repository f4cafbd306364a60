using System.Security.Cryptography;
using System.Text;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Update;
using Xunit.Abstractions;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>
/// The way to a new release cut by a power failure at every step: Prepare, the download, Install, and the
/// switch (the Save of slots.json). Each round starts from a box in some state, runs the updater's steps with
/// the real <see cref="SlotStore"/> and <see cref="ReleaseDownloader"/> up to the cut, leaves on disk what a
/// power cut there would leave, and then starts the box as systemd would: <see cref="SlotSelector.Choose"/>
/// must yield the packaged binary or a slot whose binary verifies, and, until the switch is on disk, exactly
/// what ran before. Then the next try (a new process, as after the reboot) must complete the update from
/// what was left, resuming the download.
/// </summary>
/// <remarks>
/// What a power cut leaves, step by step, given what the code syncs: unlinks of Prepare may be on disk or not,
/// in any subset; the part file holds any prefix of what was received (it is fsynced only at the end); an
/// <see cref="AtomicFile"/> write leaves its temporary file (named for the dead process, any prefix of
/// the content) and the old file, or the new file whole (its content is fsynced before the rename), and a
/// rename whose directory was not yet synced may be lost. The SIGKILL test of the real process is separate.
/// </remarks>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SwitchPowerCutTests(ITestOutputHelper output) : IDisposable
{
    private const string NewVersion = "2.0.0";
    private const int DeadProcessId = 31337; // the process the power cut killed; its leftovers carry its id
    private static readonly Uri BinaryUrl = new("https://releases.example.com/edgerelay/2.0.0/edgerelay-2.0.0-linux-arm64");

    private readonly string _root = Directory.CreateTempSubdirectory("edgerelay-switchcut-").FullName;
    private readonly ReleaseSigner _signer = new();
    private readonly UpdateClock _clock = new();

    public void Dispose()
    {
        _signer.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>Where a round's box stands before the update.</summary>
    public enum Start
    {
        /// <summary>A new box: nothing under release/.</summary>
        New,

        /// <summary>The packaged binary after a rollback: slot a holds the failed release, slots.json names no slot.</summary>
        RolledBack,

        /// <summary>Slot a committed.</summary>
        CommittedA,

        /// <summary>Slot b committed; slot a holds an old release and a part of yet another.</summary>
        CommittedBWithLeftovers,

        /// <summary>Slot a committed; slot b holds a part of this very release from an earlier try.</summary>
        CommittedAWithPart,
    }

    /// <summary>Where the power fails, in the order the updater goes.</summary>
    public enum Cut
    {
        BeforePrepare,
        PrepareRemovedTheBinaryOnly,
        PrepareRemovedTheManifestOnly,
        AfterPrepare,
        DuringDownload,
        DuringDownloadWithUnsyncedBytesLost,
        AfterDownload,
        DuringManifestWrite,
        AfterManifestWrite,
        AfterBinaryRenameNotSynced,
        AfterInstall,
        DuringSwitch,
        AfterSwitch,
    }

    private sealed record Box(SlotStore Store, string? RunningSlot, string? RunningVersion, InMemoryReleaseHost Host, HttpClient Http) : IDisposable
    {
        public void Dispose() => Http.Dispose();
    }

    [Fact]
    public async Task A_switch_cut_at_any_step_starts_the_previous_binary_or_the_new_whole_one_and_the_next_try_completes_it()
    {
        int rounds = 0;
        foreach (Start start in Enum.GetValues<Start>())
        {
            foreach (Cut cut in Enum.GetValues<Cut>())
            {
                for (int seed = 0; seed < 4; seed++)
                {
                    await RoundAsync(start, cut, seed, rounds++);
                }
            }
        }
        output.WriteLine($"{rounds} rounds: {Enum.GetValues<Start>().Length} starting states x {Enum.GetValues<Cut>().Length} cuts x 4 seeds");
        Assert.True(rounds >= 50);
    }

    private async Task RoundAsync(Start start, Cut cut, int seed, int round)
    {
        var random = new Random(round * 7919 + seed);
        byte[] binary = ReleaseSigner.Binary(random.Next(1, 200_000), 1000 + round);
        ReleaseManifest manifest = ReleaseSigner.ManifestOf(binary, NewVersion);
        string signed = _signer.Sign(manifest);
        using Box box = MakeBox(start, binary, manifest, round, random);
        SlotStore store = box.Store;
        string context = $"round {round} ({start}, cut {cut}, seed {seed}, {binary.Length} bytes)";

        // --- the updater's steps, up to the cut ------------------------------------------------------
        SlotState before = store.Load(out _);
        string slot = SlotStore.InactiveSlot(before);
        string part = store.PartPath(slot, manifest);
        string slotDirectory = store.SlotDirectory(slot);
        await RunUntilCutAsync();

        // --- the box starts again ----------------------------------------------------------------------
        SlotChoice choice = SlotSelector.Choose(store, _clock, "1.0.0", [_signer.Trusted]);
        AssertRunsAWholeBinary(store, choice, context);
        if (cut == Cut.AfterSwitch)
        {
            Assert.True((slot, NewVersion) == (choice.Slot, choice.Version), $"{context}: the switch is on disk, but {choice.Slot} {choice.Version} runs");
            Assert.Equal(binary, File.ReadAllBytes(choice.BinaryPath!));
            Assert.Equal(1, choice.State.Trial!.Attempts);
            return;
        }
        Assert.True((box.RunningSlot, box.RunningVersion) == (choice.Slot, choice.Version),
            $"{context}: {box.RunningSlot ?? "packaged"} {box.RunningVersion} ran before the switch, {choice.Slot ?? "packaged"} {choice.Version} after the cut; notes: {string.Join("; ", choice.Notes)}");

        // --- the next try, in the new process: it completes from what was left ------------------------
        long left = File.Exists(part) ? new FileInfo(part).Length : 0;
        int requestsBefore = box.Host.Ranges.Count;
        box.Host.DropAfter = null;
        SlotState now = store.Load(out _);
        Assert.Equal(slot, SlotStore.InactiveSlot(now));
        store.Prepare(slot, manifest);
        DownloadOutcome.AssertDone(await ReleaseDownloader.DownloadAsync(box.Http, BinaryUrl, manifest, part, _ => { }, _ => { }, CancellationToken.None));
        string?[] requests = [.. box.Host.Ranges.Skip(requestsBefore)];
        if (left == binary.Length)
        {
            Assert.True(requests.Length == 0, $"{context}: a complete part was fetched again");
        }
        else if (left > 0)
        {
            Assert.True(requests is [var range] && range == $"bytes={left}-", $"{context}: {left} bytes were there, the request was {string.Join(", ", requests)}");
        }
        store.Install(slot, signed, part);
        store.Save(new SlotState(slot, NewVersion, new SlotTrial(slot, NewVersion, now.Current, now.CurrentVersion ?? "1.0.0", 0, _clock.GetUtcNow()), now.Failed));

        SlotChoice after = SlotSelector.Choose(store, _clock, "1.0.0", [_signer.Trusted]);
        AssertRunsAWholeBinary(store, after, context + ", after the next try");
        Assert.True((slot, NewVersion) == (after.Slot, after.Version), $"{context}: after the next try {after.Slot} {after.Version} runs");
        Assert.Equal(binary, File.ReadAllBytes(after.BinaryPath!));
        Assert.Equal([SlotStore.BinaryName, SlotStore.ManifestName], Directory.GetFiles(slotDirectory).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        async Task RunUntilCutAsync()
        {
            if (cut == Cut.BeforePrepare)
            {
                return;
            }
            if (cut is Cut.PrepareRemovedTheBinaryOnly or Cut.PrepareRemovedTheManifestOnly)
            {
                // Unlinks not yet on disk: some happened, some did not.
                Directory.CreateDirectory(slotDirectory);
                File.Delete(cut == Cut.PrepareRemovedTheBinaryOnly ? store.BinaryPath(slot) : store.ManifestPath(slot));
                return;
            }
            store.Prepare(slot, manifest);
            if (cut == Cut.AfterPrepare)
            {
                return;
            }

            long have = File.Exists(part) ? new FileInfo(part).Length : 0;
            if (cut is Cut.DuringDownload or Cut.DuringDownloadWithUnsyncedBytesLost && have < binary.Length)
            {
                box.Host.DropAfter = random.NextInt64(0, binary.Length - have);
            }
            try
            {
                DownloadResult result = await ReleaseDownloader.DownloadAsync(box.Http, BinaryUrl, manifest, part, _ => { }, _ => { }, CancellationToken.None);
                Assert.True(result == DownloadResult.Done || cut is Cut.DuringDownload or Cut.DuringDownloadWithUnsyncedBytesLost, $"{context}: {result}");
            }
            catch (IOException) when (cut is Cut.DuringDownload or Cut.DuringDownloadWithUnsyncedBytesLost)
            {
                // The power went while the bytes came.
            }
            if (cut is Cut.DuringDownload or Cut.DuringDownloadWithUnsyncedBytesLost)
            {
                if (cut == Cut.DuringDownloadWithUnsyncedBytesLost && File.Exists(part))
                {
                    // The page cache's last bytes never reached the disk.
                    using var file = new FileStream(part, FileMode.Open, FileAccess.Write);
                    file.SetLength(random.NextInt64(0, file.Length + 1));
                }
                return;
            }
            Assert.Equal(binary, File.ReadAllBytes(part));
            if (cut == Cut.AfterDownload)
            {
                return;
            }

            if (cut == Cut.DuringManifestWrite)
            {
                byte[] text = Encoding.UTF8.GetBytes(signed);
                File.WriteAllBytes(Path.Combine(slotDirectory, $".{SlotStore.ManifestName}.{DeadProcessId}.tmp"), text[..random.Next(text.Length)]);
                return;
            }
            if (cut is Cut.AfterManifestWrite or Cut.AfterBinaryRenameNotSynced)
            {
                // Install's first half: the manifest in place (whole: AtomicFile syncs it before the rename), the binary still the part.
                AtomicFile.Write(store.ManifestPath(slot), Encoding.UTF8.GetBytes(signed));
                return;
            }
            store.Install(slot, signed, part);
            if (cut == Cut.AfterInstall)
            {
                return;
            }

            SlotState next = new(slot, NewVersion, new SlotTrial(slot, NewVersion, before.Current, before.CurrentVersion ?? "1.0.0", 0, _clock.GetUtcNow()), before.Failed);
            if (cut == Cut.DuringSwitch)
            {
                byte[] json = StateBytes(next);
                File.WriteAllBytes(Path.Combine(store.Directory, $".{SlotStore.StateName}.{DeadProcessId}.tmp"), json[..random.Next(json.Length)]);
                return;
            }
            store.Save(next);
        }
    }

    /// <summary>The bytes slots.json would hold for <paramref name="state"/>, written elsewhere.</summary>
    private byte[] StateBytes(SlotState state)
    {
        var scratch = new SlotStore(Path.Combine(_root, "scratch-" + Guid.NewGuid().ToString("N")));
        scratch.Save(state);
        return File.ReadAllBytes(scratch.StatePath);
    }

    private Box MakeBox(Start start, byte[] binary, ReleaseManifest manifest, int round, Random random)
    {
        var store = new SlotStore(Path.Combine(_root, $"round-{round}"));
        var host = new InMemoryReleaseHost();
        host.Files[BinaryUrl.AbsolutePath] = binary;
        string? runningSlot = null, runningVersion = null;
        switch (start)
        {
            case Start.New:
                break;
            case Start.RolledBack:
                InstalledRelease.Install(store, _signer, "a", "1.9.0", seed: round, size: random.Next(1, 50_000));
                store.Save(new SlotState(null, "1.0.0", null, [new FailedRelease("1.9.0", "not healthy within 120 s", UpdateClock.Epoch)]));
                break;
            case Start.CommittedA:
                InstalledRelease.Install(store, _signer, "a", "1.5.0", seed: round, size: random.Next(1, 50_000));
                store.Save(new SlotState("a", "1.5.0", null, []));
                (runningSlot, runningVersion) = ("a", "1.5.0");
                break;
            case Start.CommittedBWithLeftovers:
                InstalledRelease.Install(store, _signer, "a", "1.0.0", seed: round, size: random.Next(1, 50_000));
                InstalledRelease.Install(store, _signer, "b", "1.5.0", seed: round + 1, size: random.Next(1, 50_000));
                File.WriteAllBytes(Path.Combine(store.SlotDirectory("a"), "edgerelay.00112233445566ff.part"), ReleaseSigner.Binary(1000, round));
                store.Save(new SlotState("b", "1.5.0", null, []));
                (runningSlot, runningVersion) = ("b", "1.5.0");
                break;
            case Start.CommittedAWithPart:
                InstalledRelease.Install(store, _signer, "a", "1.5.0", seed: round, size: random.Next(1, 50_000));
                store.Save(new SlotState("a", "1.5.0", null, []));
                Directory.CreateDirectory(store.SlotDirectory("b"));
                File.WriteAllBytes(store.PartPath("b", manifest), binary[..random.Next(binary.Length + 1)]);
                (runningSlot, runningVersion) = ("a", "1.5.0");
                break;
        }
        return new Box(store, runningSlot, runningVersion, host, new HttpClient(host));
    }

    private static void AssertRunsAWholeBinary(SlotStore store, SlotChoice choice, string context)
    {
        if (choice.BinaryPath is null)
        {
            Assert.Null(choice.Slot);
            return;
        }
        ReleaseManifest? manifest = store.Verify(choice.Slot!, out string? problem);
        Assert.True(manifest is not null, $"{context}: slot {choice.Slot} was chosen but does not verify: {problem}");
        Assert.Equal(store.BinaryPath(choice.Slot!), choice.BinaryPath);
        Assert.Equal(manifest!.Sha256, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(choice.BinaryPath))));
        Assert.Equal(manifest.Version, choice.Version);
    }
}
