using System.Text;
using System.Text.Json;
using EdgeRelay.Appliance.Update;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>The two slots and slots.json: what a start finds on disk whatever happened to it, and what Verify calls whole.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SlotStoreTests : IDisposable
{
    private static readonly DateTimeOffset Switched = new(2026, 5, 4, 3, 2, 1, TimeSpan.Zero);

    private readonly string _root = Directory.CreateTempSubdirectory("edgerelay-slots-").FullName;
    private readonly ReleaseSigner _signer = new();
    private readonly SlotStore _store;

    public SlotStoreTests() => _store = new SlotStore(_root);

    public void Dispose()
    {
        _signer.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private void WriteState(string text) => WriteState(Encoding.UTF8.GetBytes(text));

    private void WriteState(byte[] bytes)
    {
        Directory.CreateDirectory(_store.Directory);
        File.WriteAllBytes(_store.StatePath, bytes);
    }

    [Fact]
    public void The_layout_is_release_slash_slot_letter_under_the_state_directory()
    {
        Assert.Equal(Path.Combine(_root, "release"), _store.Directory);
        Assert.Equal(Path.Combine(_root, "release", "slots.json"), _store.StatePath);
        Assert.Equal(Path.Combine(_root, "release", "slot-a", "edgerelay"), _store.BinaryPath("a"));
        Assert.Equal(Path.Combine(_root, "release", "slot-b", "release.jws"), _store.ManifestPath("b"));
    }

    [Theory]
    [InlineData("c")]
    [InlineData("A")]
    [InlineData("")]
    [InlineData("../a")]
    [InlineData("a/../../etc")]
    public void A_slot_is_a_or_b_and_nothing_else(string slot)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _store.SlotDirectory(slot));
        Assert.Throws<ArgumentOutOfRangeException>(() => _store.BinaryPath(slot));
        Assert.Throws<ArgumentOutOfRangeException>(() => _store.Verify(slot, out _));
    }

    [Fact]
    public void A_new_release_goes_into_the_slot_that_does_not_run()
    {
        Assert.Equal("a", SlotStore.InactiveSlot(SlotState.Packaged));
        Assert.Equal("b", SlotStore.InactiveSlot(SlotState.Packaged with { Current = "a" }));
        Assert.Equal("a", SlotStore.InactiveSlot(SlotState.Packaged with { Current = "b" }));
    }

    // --- loading slots.json ----------------------------------------------------------------------------

    [Fact]
    public void Without_slots_json_the_packaged_binary_runs_and_that_is_no_problem()
    {
        SlotState state = _store.Load(out string? problem);

        Assert.Null(problem);
        Assert.Same(SlotState.Packaged, state);
        Assert.Null(state.Current);
        Assert.Null(state.Trial);
        Assert.Empty(state.Failed);
        Assert.False(Directory.Exists(_store.Directory)); // loading writes nothing
    }

    public static TheoryData<string> DamagedStates() =>
    [
        "",
        " ",
        "{",
        "{\"format\":1,\"current\":\"a\"",
        "null",
        "[]",
        "\"a\"",
        "42",
        "{}",
        "{\"current\":\"a\",\"currentVersion\":\"1.5.0\"}", // no format
        "{\"format\":2,\"current\":\"a\"}",
        "{\"format\":0}",
        "{\"format\":\"1\",\"current\":\"a\"}",
        "{\"format\":1.5}",
        "{\"format\":1,\"current\":\"c\"}",
        "{\"format\":1,\"current\":\"A\"}",
        "{\"format\":1,\"current\":\"../../bin\"}",
        "{\"format\":1,\"current\":1}",
        "{\"format\":1,\"current\":[\"a\"]}",
        "{\"format\":1,\"current\":\"a\",\"trial\":{\"slot\":\"b\",\"version\":\"1.5.0\",\"attempts\":1}}", // a trial of a slot that is not the current one
        "{\"format\":1,\"current\":null,\"trial\":{\"slot\":\"a\",\"version\":\"1.5.0\",\"attempts\":1}}",
        "{\"format\":1,\"current\":\"a\",\"trial\":{\"slot\":\"a\",\"attempts\":1}}", // a trial of no version
        "{\"format\":1,\"current\":\"a\",\"trial\":{\"slot\":\"a\",\"version\":\"1.5.0\",\"previous\":\"c\"}}",
        "{\"format\":1,\"current\":\"a\",\"trial\":{\"slot\":\"a\",\"version\":\"1.5.0\",\"attempts\":\"one\"}}",
        "{\"format\":1,\"current\":\"a\",\"trial\":{\"slot\":\"a\",\"version\":\"1.5.0\",\"switchedAt\":\"yesterday\"}}",
        "{\"format\":1,\"current\":\"a\",\"trial\":\"a\"}",
        "{\"format\":1,\"failed\":\"1.5.0\"}",
        "{\"format\":1,\"failed\":[{\"version\":\"1.5.0\",\"reason\":\"x\",\"at\":\"not a time\"}]}",
        "{\"format\":1,\"format\":1,\"current\":\"a\"" + new string(' ', 3) + "}garbage",
        string.Concat(Enumerable.Repeat("{\"failed\":[", 500)),
        "\uFEFF\uFEFF{\"format\":1}",
    ];

    [Theory]
    [MemberData(nameof(DamagedStates))]
    public void A_damaged_or_foreign_slots_json_means_the_packaged_binary_and_says_so(string content)
    {
        WriteState(content);

        SlotState state = _store.Load(out string? problem);

        Assert.Same(SlotState.Packaged, state);
        Assert.NotNull(problem);
        Assert.Contains(_store.StatePath, problem, StringComparison.Ordinal);
        Assert.Contains("packaged binary", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Random_bytes_in_slots_json_never_throw()
    {
        var random = new Random(5);
        for (int i = 0; i < 500; i++)
        {
            byte[] bytes = new byte[random.Next(1, 200)];
            random.NextBytes(bytes);
            WriteState(bytes);
            Assert.Same(SlotState.Packaged, _store.Load(out string? problem));
            Assert.NotNull(problem);
        }
    }

    [Fact]
    public void Text_that_is_not_UTF_8_in_slots_json_is_damage_not_a_crash()
    {
        byte[] json = Encoding.UTF8.GetBytes("{\"format\":1,\"current\":\"a\",\"currentVersion\":\"1.5.0X\"}");
        json[^3] = 0xFF;
        WriteState(json);

        Assert.Same(SlotState.Packaged, _store.Load(out string? problem));
        Assert.NotNull(problem);
    }

    [Fact]
    public void A_state_that_another_writer_left_half_written_is_damage_at_every_length()
    {
        _store.Save(new SlotState("a", "1.5.0", new SlotTrial("a", "1.5.0", "b", "1.4.0", 2, Switched), [new FailedRelease("1.3.0", "crashed", Switched)]));
        byte[] whole = File.ReadAllBytes(_store.StatePath);
        for (int length = 0; length < whole.Length; length++)
        {
            WriteState(whole[..length]);
            SlotState state = _store.Load(out string? problem);
            // A prefix is either not JSON, or (cut inside trailing whitespace) the whole state.
            Assert.True(problem is not null && ReferenceEquals(state, SlotState.Packaged) || problem is null && state.Current == "a",
                $"a prefix of {length} of {whole.Length} bytes gave {state} ({problem})");
        }
    }

    // --- saving ----------------------------------------------------------------------------------------

    [Fact]
    public void What_is_saved_is_what_loads()
    {
        var state = new SlotState("b", "1.5.0", new SlotTrial("b", "1.5.0", "a", "1.4.0", 2, Switched),
            [new FailedRelease("1.3.0", "not healthy within 120 s: no listener", Switched.AddDays(-3)), new FailedRelease("1.3.1", "crashed", Switched.AddDays(-1))]);

        _store.Save(state);
        SlotState loaded = _store.Load(out string? problem);

        Assert.Null(problem);
        Assert.Equal("b", loaded.Current);
        Assert.Equal("1.5.0", loaded.CurrentVersion);
        Assert.Equal(state.Trial, loaded.Trial);
        Assert.Equal(state.Failed, loaded.Failed);
        Assert.Equal(state.Failed[1], loaded.FailureOf("1.3.1"));
        Assert.Null(loaded.FailureOf("1.5.0"));
    }

    [Fact]
    public void A_committed_state_and_the_packaged_state_round_trip_too()
    {
        _store.Save(new SlotState("a", "1.4.0", null, []));
        SlotState loaded = _store.Load(out string? problem);
        Assert.Null(problem);
        Assert.Equal(("a", "1.4.0"), (loaded.Current, loaded.CurrentVersion));
        Assert.Null(loaded.Trial);
        Assert.Empty(loaded.Failed);

        _store.Save(SlotState.Packaged with { CurrentVersion = "1.4.0", Failed = [new FailedRelease("1.5.0", "x", Switched)] });
        loaded = _store.Load(out problem);
        Assert.Null(problem);
        Assert.Null(loaded.Current);
        Assert.Equal("1.5.0", Assert.Single(loaded.Failed).Version);
    }

    [Fact]
    public void The_file_is_format_1_camel_case_JSON_owner_only_with_no_temporary_file_left()
    {
        _store.Save(new SlotState("a", "1.5.0", new SlotTrial("a", "1.5.0", null, "1.4.0", 0, Switched), []));

        using JsonDocument json = JsonDocument.Parse(File.ReadAllBytes(_store.StatePath));
        JsonElement root = json.RootElement;
        Assert.Equal(1, root.GetProperty("format").GetInt32());
        Assert.Equal("a", root.GetProperty("current").GetString());
        Assert.Equal("1.5.0", root.GetProperty("currentVersion").GetString());
        Assert.Equal(0, root.GetProperty("trial").GetProperty("attempts").GetInt32());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("trial").GetProperty("previous").ValueKind);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_store.StatePath));
        Assert.Equal([SlotStore.StateName], Directory.GetFileSystemEntries(_store.Directory).Select(Path.GetFileName));
    }

    [Fact]
    public void Only_the_last_sixteen_failed_versions_are_kept()
    {
        List<FailedRelease> failed = [.. Enumerable.Range(1, 40).Select(i => new FailedRelease($"1.{i}.0", "x", Switched.AddMinutes(i)))];

        _store.Save(new SlotState(null, null, null, failed));

        Assert.Equal(failed[^16..], _store.Load(out _).Failed);
    }

    [Fact]
    public void A_failure_without_a_version_or_reason_is_dropped_and_the_rest_kept()
    {
        WriteState("{\"format\":1,\"current\":null,\"failed\":[{\"version\":\"1.5.0\",\"reason\":\"r\",\"at\":\"2026-05-04T03:02:01+00:00\"},"
            + "{\"version\":null,\"reason\":\"r\"},{\"version\":\"1.6.0\"},null]}");

        SlotState state = _store.Load(out string? problem);

        Assert.Null(problem);
        Assert.Equal("1.5.0", Assert.Single(state.Failed).Version);
    }

    // --- preparing, installing, verifying ------------------------------------------------------------

    [Fact]
    public void Prepare_empties_the_slot_but_keeps_a_partial_download_of_the_same_release()
    {
        InstalledRelease old = InstalledRelease.Install(_store, _signer, "b", "1.4.0", seed: 1);
        InstalledRelease other = InstalledRelease.Install(_store, _signer, "a", "1.3.0", seed: 2);
        ReleaseManifest next = ReleaseSigner.ManifestOf(ReleaseSigner.Binary(5000, 3), "1.5.0");
        ReleaseManifest another = ReleaseSigner.ManifestOf(ReleaseSigner.Binary(5000, 4), "1.6.0");
        string slotB = _store.SlotDirectory("b");
        File.WriteAllBytes(_store.PartPath("b", next), [1, 2, 3]);
        File.WriteAllBytes(_store.PartPath("b", another), [4, 5, 6]);
        File.WriteAllBytes(Path.Combine(slotB, ".release.jws.12345.tmp"), [7]);
        File.WriteAllBytes(Path.Combine(slotB, "stray"), [8]);

        _store.Prepare("b", next);

        Assert.Equal([Path.GetFileName(_store.PartPath("b", next))], Directory.GetFiles(slotB).Select(Path.GetFileName));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(_store.PartPath("b", next)));
        Assert.Null(_store.Verify("b", out _));
        // The other slot is not touched.
        Assert.Equal(other.Manifest, _store.Verify("a", out string? problem));
        Assert.Null(problem);
        Assert.NotEqual(old.Manifest, next);
    }

    [Fact]
    public void Prepare_makes_the_slot_directory_and_the_part_file_is_named_by_the_release_hash()
    {
        ReleaseManifest manifest = ReleaseSigner.ManifestOf(ReleaseSigner.Binary(100, 9), "1.5.0");

        _store.Prepare("a", manifest);

        Assert.True(Directory.Exists(_store.SlotDirectory("a")));
        Assert.Empty(Directory.GetFileSystemEntries(_store.SlotDirectory("a")));
        Assert.Equal(Path.Combine(_store.SlotDirectory("a"), $"edgerelay.{manifest.Sha256[..16]}.part"), _store.PartPath("a", manifest));
        Assert.NotEqual(_store.PartPath("a", manifest), _store.PartPath("a", ReleaseSigner.ManifestOf(ReleaseSigner.Binary(100, 10), "1.5.0")));
    }

    [Fact]
    public void Install_puts_the_signed_manifest_and_an_executable_binary_in_place_and_Verify_calls_it_whole()
    {
        byte[] binary = ReleaseSigner.Binary(70_001, 12);
        ReleaseManifest manifest = ReleaseSigner.ManifestOf(binary, "1.5.0");
        _store.Prepare("a", manifest);
        string part = _store.PartPath("a", manifest);
        File.WriteAllBytes(part, binary);
        File.SetUnixFileMode(part, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        string signed = _signer.Sign(manifest);

        _store.Install("a", signed, part);

        Assert.False(File.Exists(part));
        Assert.Equal(binary, File.ReadAllBytes(_store.BinaryPath("a")));
        Assert.Equal(signed, File.ReadAllText(_store.ManifestPath("a")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherExecute, File.GetUnixFileMode(_store.BinaryPath("a")));
        Assert.Equal(manifest, _store.Verify("a", out string? problem));
        Assert.Null(problem);
        Assert.Equal(2, Directory.GetFileSystemEntries(_store.SlotDirectory("a")).Length);
    }

    public static TheoryData<string> Damages() =>
    [
        "first byte changed", "middle byte changed", "last byte changed", "one bit changed", "truncated by one byte", "truncated to half",
        "emptied", "one byte appended", "binary missing", "manifest missing", "manifest emptied", "manifest not a JWS", "manifest payload garbage",
        "manifest of another release", "binary is a directory", "slot missing",
    ];

    [Theory]
    [MemberData(nameof(Damages))]
    public void Verify_refuses_a_slot_whose_binary_is_not_the_manifests(string damage)
    {
        InstalledRelease release = InstalledRelease.Install(_store, _signer, "b", "1.5.0", seed: 21, size: 40_000);
        InstalledRelease other = InstalledRelease.Install(_store, _signer, "a", "1.4.0", seed: 22, size: 40_000);
        string binary = _store.BinaryPath("b");
        string manifest = _store.ManifestPath("b");
        void Change(long at, Func<byte, byte> change)
        {
            using var file = new FileStream(binary, FileMode.Open, FileAccess.ReadWrite);
            file.Position = at;
            int b = file.ReadByte();
            file.Position = at;
            file.WriteByte(change((byte)b));
        }
        void SetLength(long length)
        {
            using var file = new FileStream(binary, FileMode.Open, FileAccess.Write);
            file.SetLength(length);
        }
        switch (damage)
        {
            case "first byte changed": Change(0, b => (byte)(b + 1)); break;
            case "middle byte changed": Change(20_000, b => (byte)~b); break;
            case "last byte changed": Change(39_999, b => (byte)(b ^ 0x80)); break;
            case "one bit changed": Change(12_345, b => (byte)(b ^ 0x01)); break;
            case "truncated by one byte": SetLength(39_999); break;
            case "truncated to half": SetLength(20_000); break;
            case "emptied": File.WriteAllBytes(binary, []); break;
            case "one byte appended": File.AppendAllText(binary, "x"); break;
            case "binary missing": File.Delete(binary); break;
            case "manifest missing": File.Delete(manifest); break;
            case "manifest emptied": File.WriteAllText(manifest, ""); break;
            case "manifest not a JWS": File.WriteAllText(manifest, "{\"version\":\"1.5.0\"}"); break;
            case "manifest payload garbage": File.WriteAllText(manifest, ReleaseSigner.WithPayload(release.Signed, "{\"version\":")); break;
            case "manifest of another release": File.WriteAllText(manifest, other.Signed); break;
            case "binary is a directory": File.Delete(binary); Directory.CreateDirectory(binary); break;
            default: Directory.Delete(_store.SlotDirectory("b"), recursive: true); break;
        }

        Assert.Null(_store.Verify("b", out string? problem));

        Assert.NotNull(problem);
        Assert.Contains("slot b", problem, StringComparison.Ordinal);
        Assert.Equal(other.Manifest, _store.Verify("a", out _));
    }

    [Fact]
    public void An_empty_slot_holds_no_complete_release()
    {
        Assert.Null(_store.Verify("a", out string? problem));
        Assert.Equal("slot a holds no complete release", problem);
    }

    // --- Update: the read, the decision and the write under slots.lock ----------------------------------

    [Fact]
    public async Task An_update_waits_for_the_other_writers_lock_and_then_changes_what_that_writer_left()
    {
        _store.Save(new SlotState("a", "1.5.0", new SlotTrial("a", "1.5.0", null, "1.4.0", 1, Switched), []));
        Task<SlotState> update;
        using (var held = new FileStream(Path.Combine(_store.Directory, SlotStore.LockName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            update = Task.Run(() => _store.Update(s => s with { Trial = null }));
            // The other writer (the trial guard, say) rolls back while it holds the lock.
            _store.Save(new SlotState(null, "1.4.0", null, [new FailedRelease("1.5.0", "no verdict", Switched)]));
            await Task.Delay(300);
            Assert.False(update.IsCompleted, "the update did not wait for the lock");
        }

        SlotState saved = await update;

        // The change was made to what the other writer left, not to what was there before it.
        Assert.Equal((null, "1.4.0", null), (saved.Current, saved.CurrentVersion, saved.Trial));
        Assert.Equal(saved.Current, _store.Load(out _).Current);
        Assert.Single(_store.Load(out _).Failed);
    }

    [Fact]
    public void An_update_that_changes_nothing_writes_nothing_and_removes_a_dead_writers_leftover()
    {
        _store.Save(new SlotState("a", "1.5.0", null, []));
        DateTime written = File.GetLastWriteTimeUtc(_store.StatePath);
        string leftover = Path.Combine(_store.Directory, $".{SlotStore.StateName}.31337.tmp");
        File.WriteAllText(leftover, "{\"format\":1,\"cur");
        File.SetLastWriteTimeUtc(_store.StatePath, written.AddMinutes(-5));

        SlotState state = _store.Update(s => s);

        Assert.Equal("a", state.Current);
        Assert.Equal(written.AddMinutes(-5), File.GetLastWriteTimeUtc(_store.StatePath));
        Assert.False(File.Exists(leftover));
    }

    [Fact]
    public void Loading_leaves_a_temporary_file_alone_since_its_writer_may_be_between_its_write_and_its_rename()
    {
        _store.Save(new SlotState("a", "1.5.0", null, []));
        string writing = Path.Combine(_store.Directory, $".{SlotStore.StateName}.{Environment.ProcessId}.tmp");
        File.WriteAllText(writing, "{}");

        Assert.Equal("a", _store.Load(out _).Current);

        Assert.True(File.Exists(writing));
    }

    [Fact]
    public void Fields_a_later_release_wrote_survive_a_rewrite_by_this_one()
    {
        WriteState("""
            { "format": 1, "current": "a", "currentVersion": "2.0.0", "packagedVersion": "1.0.0", "failed": [],
              "trial": { "slot": "a", "version": "2.0.0", "previous": null, "previousVersion": "1.0.0", "attempts": 1,
                         "switchedAt": "2026-05-04T03:02:01+00:00", "canary": { "percent": 5 } },
              "channel": "beta" }
            """);

        _store.Update(s => s with { Trial = s.Trial! with { Attempts = 2 } });

        using JsonDocument saved = JsonDocument.Parse(File.ReadAllBytes(_store.StatePath));
        Assert.Equal("beta", saved.RootElement.GetProperty("channel").GetString());
        Assert.Equal(2, saved.RootElement.GetProperty("trial").GetProperty("attempts").GetInt32());
        Assert.Equal(5, saved.RootElement.GetProperty("trial").GetProperty("canary").GetProperty("percent").GetInt32());
        // And through a rollback, which makes a new state.
        _store.Update(s => SlotSelector.RollBack(s, "test", TimeProvider.System));
        using JsonDocument rolledBack = JsonDocument.Parse(File.ReadAllBytes(_store.StatePath));
        Assert.Equal("beta", rolledBack.RootElement.GetProperty("channel").GetString());
    }
}
