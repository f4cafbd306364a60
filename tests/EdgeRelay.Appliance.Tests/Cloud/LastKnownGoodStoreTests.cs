using System.Security.Cryptography;
using System.Text;
using EdgeRelay.Appliance.Cloud;

namespace EdgeRelay.Appliance.Tests.Cloud;

/// <summary>The last known good cloud document on disk: what a restart finds, whatever happened to the file.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class LastKnownGoodStoreTests : IDisposable
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnly = OwnerReadWrite | UnixFileMode.UserExecute;

    private readonly string _root = Directory.CreateTempSubdirectory("edgerelay-store-").FullName;
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly LastKnownGoodStore _store;

    public LastKnownGoodStoreTests() => _store = new LastKnownGoodStore(StateDirectory);

    public void Dispose()
    {
        _key.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private string StateDirectory => Path.Combine(_root, "state");

    private TrustedKey Trusted => TrustedKey.FromSigningKey(_key);

    private static byte[] Payload(long version) =>
        Encoding.UTF8.GetBytes($$"""{"version":{{version}},"realm":"venue.example.net","auth":{"users":{"alice":"correct horse battery staple"} } }""");

    private StoredDocument Stored(long version, IReadOnlyList<string>? verifiedWith = null) => new(
        SignedDocument.Sign(Payload(version), _key),
        version,
        verifiedWith ?? [Trusted.ToString()],
        $"\"etag-{version}\"",
        new DateTimeOffset(2025, 3, 14, 15, 9, 26, TimeSpan.Zero).AddMinutes(version));

    /// <summary>The store's answer when the file is damaged: a problem that names the file, and nothing to run.</summary>
    private void AssertDamaged(StoreLoadResult result)
    {
        Assert.Null(result.Document);
        Assert.Empty(result.Payload);
        Assert.False(result.IsEmpty);
        Assert.NotNull(result.Problem);
        Assert.Contains(_store.Path, result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_saved_document_loads_with_its_version_ETag_keys_acceptance_time_signer_and_payload()
    {
        StoredDocument saved = Stored(7);
        _store.Save(saved);

        StoreLoadResult loaded = _store.Load();

        Assert.Null(loaded.Problem);
        Assert.False(loaded.IsEmpty);
        StoredDocument document = Assert.IsType<StoredDocument>(loaded.Document);
        Assert.Equal(saved.Document, document.Document);
        Assert.Equal(7, document.Version);
        Assert.Equal("\"etag-7\"", document.ETag);
        Assert.Equal(saved.VerifiedWith, document.VerifiedWith);
        Assert.Equal(saved.AcceptedAt, document.AcceptedAt);
        Assert.Equal(Trusted.KeyId, loaded.SignedBy);
        Assert.Equal(Payload(7), loaded.Payload);
        Assert.Equal(Path.Combine(StateDirectory, "cloud-configuration.json"), _store.Path);
    }

    [Fact]
    public void A_document_without_an_ETag_signed_by_the_second_of_two_keys_loads()
    {
        using var retired = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        StoredDocument saved = Stored(3, [TrustedKey.FromSigningKey(retired).ToString(), Trusted.ToString()]) with { ETag = null };
        _store.Save(saved);

        StoreLoadResult loaded = _store.Load();

        Assert.Null(loaded.Problem);
        Assert.Null(loaded.Document!.ETag);
        Assert.Equal(2, loaded.Document.VerifiedWith.Count);
        Assert.Equal(Trusted.KeyId, loaded.SignedBy);
    }

    [Fact]
    public void A_later_save_replaces_the_earlier_one_and_leaves_no_temporary_file()
    {
        _store.Save(Stored(1));
        _store.Save(Stored(2));

        StoreLoadResult loaded = _store.Load();

        Assert.Equal(2, loaded.Document!.Version);
        Assert.Equal(Payload(2), loaded.Payload);
        Assert.Equal([_store.Path], Directory.GetFiles(StateDirectory));
    }

    [Fact]
    public void A_missing_file_is_an_empty_store_not_a_problem()
    {
        StoreLoadResult noDirectory = _store.Load();
        Directory.CreateDirectory(StateDirectory);
        StoreLoadResult noFile = _store.Load();

        foreach (StoreLoadResult result in new[] { noDirectory, noFile })
        {
            Assert.True(result.IsEmpty);
            Assert.Null(result.Document);
            Assert.Null(result.Problem);
            Assert.Empty(result.Payload);
        }
    }

    [Fact]
    public void Every_truncation_of_the_file_is_a_problem_naming_the_file()
    {
        _store.Save(Stored(5));
        byte[] whole = File.ReadAllBytes(_store.Path);

        for (int length = 0; length < whole.Length; length += length < 64 || length > whole.Length - 64 ? 1 : 13)
        {
            File.WriteAllBytes(_store.Path, whole[..length]);

            AssertDamaged(_store.Load());
        }
    }

    [Fact]
    public void Random_bytes_are_a_problem_naming_the_file()
    {
        var random = new Random(7515);
        foreach (int length in new[] { 1, 16, 4096, 100_000 })
        {
            byte[] garbage = new byte[length];
            random.NextBytes(garbage);
            File.WriteAllBytes(Path.Combine(Directory.CreateDirectory(StateDirectory).FullName, LastKnownGoodStore.FileName), garbage);

            AssertDamaged(_store.Load());
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("{}")]
    [InlineData("[]")]
    [InlineData("\"text\"")]
    [InlineData("{\"format\":1}")]
    public void JSON_that_is_not_a_stored_document_is_a_problem_naming_the_file(string content)
    {
        File.WriteAllText(Path.Combine(Directory.CreateDirectory(StateDirectory).FullName, LastKnownGoodStore.FileName), content);

        AssertDamaged(_store.Load());
    }

    [Fact]
    public void Every_one_byte_change_to_the_signed_document_in_the_file_is_a_problem_naming_the_file()
    {
        StoredDocument saved = Stored(9);
        _store.Save(saved);
        string text = File.ReadAllText(_store.Path);
        int start = text.IndexOf(saved.Document, StringComparison.Ordinal);
        Assert.True(start > 0);
        // Header and payload: every byte is covered by the signature. (The stored record's other fields,
        // such as its version and ETag, are not signed: see the JWS payload for the version that runs.)
        int signatureStart = saved.Document.LastIndexOf('.');
        for (int i = start; i < start + signatureStart; i++)
        {
            char other = text[i] == 'x' ? 'y' : 'x';
            File.WriteAllText(_store.Path, text[..i] + other + text[(i + 1)..]);

            AssertDamaged(_store.Load());
        }
    }

    [Fact]
    public void A_stored_header_whose_key_id_is_not_text_is_a_problem_not_an_exception()
    {
        // One byte of the header's base64 changed can do this: C3 28 is not UTF-8.
        string signingInput = System.Buffers.Text.Base64Url.EncodeToString([.. "{\"alg\":\"ES256\",\"kid\":\""u8, 0xC3, 0x28, .. "\"}"u8])
            + "." + System.Buffers.Text.Base64Url.EncodeToString(Payload(1));
        string document = signingInput + "." + System.Buffers.Text.Base64Url.EncodeToString(
            _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        _store.Save(Stored(1) with { Document = document });

        AssertDamaged(_store.Load());
    }

    [Fact]
    public void A_changed_signature_in_the_file_is_a_problem_naming_the_file()
    {
        StoredDocument saved = Stored(9);
        _store.Save(saved);
        string text = File.ReadAllText(_store.Path);
        int signature = text.IndexOf(saved.Document, StringComparison.Ordinal) + saved.Document.LastIndexOf('.') + 1;

        File.WriteAllText(_store.Path, text[..(signature + 5)] + (text[signature + 5] == 'Q' ? 'R' : 'Q') + text[(signature + 6)..]);

        AssertDamaged(_store.Load());
        Assert.Contains("bad signature", _store.Load().Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(-1)]
    public void A_format_other_than_1_is_a_problem_naming_the_file(int format)
    {
        _store.Save(Stored(4));
        string text = File.ReadAllText(_store.Path);
        Assert.Contains("\"format\": 1,", text, StringComparison.Ordinal);

        File.WriteAllText(_store.Path, text.Replace("\"format\": 1,", $"\"format\": {format},", StringComparison.Ordinal));

        AssertDamaged(_store.Load());
    }

    [Fact]
    public void Keys_that_did_not_sign_the_document_are_a_problem_naming_the_file()
    {
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _store.Save(Stored(6, [TrustedKey.FromSigningKey(other).ToString()]));

        StoreLoadResult loaded = _store.Load();

        AssertDamaged(loaded);
        Assert.Contains(Trusted.KeyId, loaded.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_key_list_is_a_problem_naming_the_file()
    {
        _store.Save(Stored(6, []));

        AssertDamaged(_store.Load());
    }

    [Fact]
    public void A_key_that_is_not_a_key_is_a_problem_naming_the_file()
    {
        _store.Save(Stored(6, [Trusted.ToString(), "not a key"]));

        StoreLoadResult loaded = _store.Load();

        AssertDamaged(loaded);
        Assert.Contains("key", loaded.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_null_in_the_key_list_is_a_problem_not_an_exception()
    {
        _store.Save(Stored(6));
        string text = File.ReadAllText(_store.Path);
        File.WriteAllText(_store.Path, text.Replace("\"verifiedWith\": [", "\"verifiedWith\": [ null,", StringComparison.Ordinal));

        AssertDamaged(_store.Load());
    }

    [Fact]
    public void The_file_is_readable_by_its_owner_only_and_the_directory_it_creates_is_the_owners_only()
    {
        _store.Save(Stored(1));

        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(_store.Path));
        Assert.Equal(OwnerOnly, File.GetUnixFileMode(StateDirectory));
    }

    [Fact]
    public void Saving_over_a_file_that_others_could_read_leaves_it_readable_by_its_owner_only()
    {
        Directory.CreateDirectory(StateDirectory);
        File.WriteAllText(_store.Path, "{}");
        File.SetUnixFileMode(_store.Path, OwnerReadWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        _store.Save(Stored(1));

        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(_store.Path));
    }

    [Fact]
    public void A_temporary_file_left_by_a_killed_writer_is_removed_at_load_and_does_not_hide_the_document()
    {
        _store.Save(Stored(2));
        string leftover = Path.Combine(StateDirectory, $".{LastKnownGoodStore.FileName}.4242.tmp");
        File.WriteAllText(leftover, "{\"format\": 1, \"version\": 3, \"docu");
        string unrelated = Path.Combine(StateDirectory, "other.tmp");
        File.WriteAllText(unrelated, "kept");

        StoreLoadResult loaded = _store.Load();

        Assert.Null(loaded.Problem);
        Assert.Equal(2, loaded.Document!.Version);
        Assert.False(File.Exists(leftover));
        Assert.True(File.Exists(unrelated));
    }

    [Fact]
    public void A_save_after_a_killed_writer_with_the_same_process_id_replaces_its_temporary_file()
    {
        // After a power cut the service may well start with the same process id as the writer that died.
        Directory.CreateDirectory(StateDirectory);
        string leftover = Path.Combine(StateDirectory, $".{LastKnownGoodStore.FileName}.{Environment.ProcessId}.tmp");
        File.WriteAllText(leftover, new string('x', 100_000));

        _store.Save(Stored(8));

        Assert.False(File.Exists(leftover));
        Assert.Equal(8, _store.Load().Document!.Version);
    }
}
