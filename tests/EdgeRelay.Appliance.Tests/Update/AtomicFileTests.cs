using EdgeRelay.Appliance.Cloud;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>
/// The replacement that the switch (slots.json) and a slot's manifest rely on: the old content or the new,
/// whole, with exactly the mode asked for, and nothing left behind when it fails.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class AtomicFileTests : IDisposable
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly string _root = Directory.CreateTempSubdirectory("edgerelay-atomic-").FullName;
    private readonly List<ReadOnlyDirectory> _readOnly = [];

    public void Dispose()
    {
        _readOnly.ForEach(d => d.Dispose());
        Directory.Delete(_root, recursive: true);
    }

    private string PathOf(string name) => Path.Combine(_root, name);

    private string[] Entries() => [.. Directory.GetFileSystemEntries(_root).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];

    [Fact]
    public void A_new_file_gets_the_content_and_owner_only_access_by_default()
    {
        AtomicFile.Write(PathOf("slots.json"), "{\"format\":1}"u8);

        Assert.Equal("{\"format\":1}"u8.ToArray(), File.ReadAllBytes(PathOf("slots.json")));
        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(PathOf("slots.json")));
        Assert.Equal(["slots.json"], Entries());
    }

    [Fact]
    public void The_mode_asked_for_is_the_mode_the_file_gets_whatever_the_umask()
    {
        // The process umask (022 here, 077 under the unit) would take group write away from a mode given at creation.
        const UnixFileMode mode = OwnerReadWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead;

        AtomicFile.Write(PathOf("release.jws"), "x"u8, mode);

        Assert.Equal(mode, File.GetUnixFileMode(PathOf("release.jws")));
    }

    [Fact]
    public void A_replacement_is_a_new_file_so_a_reader_of_the_old_one_reads_the_old_content_whole()
    {
        byte[] old = ReleaseSigner.Binary(100_000, 1), replacement = ReleaseSigner.Binary(50_000, 2);
        AtomicFile.Write(PathOf("slots.json"), old);
        using var reader = new FileStream(PathOf("slots.json"), FileMode.Open, FileAccess.Read);

        AtomicFile.Write(PathOf("slots.json"), replacement);

        Assert.Equal(replacement, File.ReadAllBytes(PathOf("slots.json")));
        byte[] read = new byte[old.Length + 1];
        Assert.Equal(old.Length, reader.ReadAtLeast(read, read.Length, throwOnEndOfStream: false));
        Assert.Equal(old, read[..old.Length]);
        Assert.Equal(["slots.json"], Entries());
    }

    [Fact]
    public void A_write_that_fails_at_the_rename_leaves_the_target_as_it_was_and_no_temporary_file()
    {
        Directory.CreateDirectory(PathOf("slots.json"));
        File.WriteAllText(Path.Combine(PathOf("slots.json"), "inside"), "x");

        Assert.ThrowsAny<IOException>(() => AtomicFile.Write(PathOf("slots.json"), "new"u8));

        Assert.Equal(["slots.json"], Entries());
        Assert.Equal("x", File.ReadAllText(Path.Combine(PathOf("slots.json"), "inside")));
    }

    [Fact]
    public void A_write_into_a_read_only_directory_fails_and_the_old_content_stays()
    {
        AtomicFile.Write(PathOf("slots.json"), "old"u8);
        _readOnly.Add(ReadOnlyDirectory.Make(_root));

        Exception e = Assert.ThrowsAny<Exception>(() => AtomicFile.Write(PathOf("slots.json"), "new"u8));

        Assert.True(e is IOException or UnauthorizedAccessException, e.ToString());
        Assert.Equal("old", File.ReadAllText(PathOf("slots.json")));
        Assert.Equal(["slots.json"], Entries());
    }

    [Fact]
    public void A_write_into_a_missing_directory_fails_without_making_it()
    {
        Assert.ThrowsAny<IOException>(() => AtomicFile.Write(PathOf("missing/slots.json"), "new"u8));
        Assert.False(Directory.Exists(PathOf("missing")));
    }

    [Fact]
    public void A_dead_writers_leftover_disturbs_nothing_and_RemoveLeftovers_removes_exactly_the_leftovers()
    {
        File.WriteAllText(PathOf(".slots.json.31337.tmp"), "{\"format\":1,\"cur");
        File.WriteAllText(PathOf(".slots.json.1.tmp"), "");
        File.WriteAllText(PathOf(".release.jws.31337.tmp"), "eyJ");
        File.WriteAllText(PathOf("slots.json.tmp"), "kept");
        File.WriteAllText(PathOf(".slots.json.31337.tmp.bak"), "kept");

        AtomicFile.Write(PathOf("slots.json"), "new"u8);
        Assert.Equal("new", File.ReadAllText(PathOf("slots.json")));

        AtomicFile.RemoveLeftovers(PathOf("slots.json"));

        Assert.Equal([".release.jws.31337.tmp", ".slots.json.31337.tmp.bak", "slots.json", "slots.json.tmp"], Entries());
    }

    [Fact]
    public void Syncing_a_directory_that_is_not_there_is_an_IOException_that_names_it()
    {
        IOException e = Assert.Throws<IOException>(() => AtomicFile.SyncDirectory(PathOf("missing")));
        Assert.Contains(PathOf("missing"), e.Message, StringComparison.Ordinal);
        AtomicFile.SyncDirectory(_root);
    }

    [Fact]
    public async Task A_reader_during_many_replacements_only_ever_sees_a_whole_version()
    {
        // Each version is 64 KiB of one byte value: a mix or a short read shows.
        string path = PathOf("slots.json");
        AtomicFile.Write(path, Version(0));
        using var stop = new CancellationTokenSource();
        var torn = new List<string>();
        Task reader = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                byte[] seen = File.ReadAllBytes(path);
                if (seen.Length != 65_536 || seen.AsSpan().IndexOfAnyExcept(seen[0]) >= 0)
                {
                    lock (torn)
                    {
                        torn.Add($"{seen.Length} bytes");
                    }
                }
            }
        });

        for (int version = 1; version <= 300; version++)
        {
            AtomicFile.Write(path, Version(version));
        }
        stop.Cancel();
        await reader;

        Assert.Empty(torn);
        Assert.Equal(Version(300), File.ReadAllBytes(path));

        static byte[] Version(int n) => Enumerable.Repeat((byte)n, 65_536).ToArray();
    }
}
