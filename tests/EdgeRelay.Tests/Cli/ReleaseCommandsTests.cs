using System.Buffers.Text;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using EdgeRelay.Appliance.Update;
using EdgeRelay.Tests.Support;
using Result = EdgeRelay.Tests.Support.BinaryRun;

namespace EdgeRelay.Tests.Cli;

/// <summary>
/// The operator's tools for releases as an operator runs them: the shipped Native AOT binary signs a release of
/// itself (a real linux-x64 ELF) or of a stand-in for another architecture, and checks manifests and binaries
/// against each other. Exit codes: 0 good, 1 a binary that does not match or a file that cannot be read,
/// 2 a bad value, 3 signature refused, 64 usage.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class ReleaseCommandsTests : IDisposable
{
    /// <summary>A bound on a run that should take a fraction of a second; never an assertion about time.</summary>
    private static readonly TimeSpan RunLimit = TimeSpan.FromSeconds(60);

    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-release-").FullName;

    /// <summary>A signing key as keygen made it: the private key file, and what keygen printed.</summary>
    private sealed record SigningKey(string PrivateKeyPath, string KeyId, string PublicKey);

    private Result Edgerelay(params string[] args) => AotBinary.Run(args, RunLimit, workingDirectory: _directory);

    private string PathOf(string name) => Path.Combine(_directory, name);

    private SigningKey Keygen(string name = "release-key.pem")
    {
        string path = PathOf(name);
        Result keygen = Edgerelay("keygen", "--out", path);
        Assert.True(keygen.Exit == 0, keygen.ToString());
        Match printed = KeygenOutput().Match(keygen.Stdout);
        Assert.True(printed.Success, keygen.ToString());
        return new SigningKey(path, printed.Groups["kid"].Value, printed.Groups["public"].Value);
    }

    /// <summary>The release binary: a copy of the shipped binary, which is a linux-x64 ELF like any release of that RID.</summary>
    private string ReleaseBinary(string name = "edgerelay-1.4.2-linux-x64")
    {
        string path = PathOf(name);
        File.Copy(AotBinary.Path, path);
        return path;
    }

    /// <summary>
    /// A stand-in for a binary of another architecture: an ELF header (64-bit, little-endian) with that e_machine
    /// (0xB7 AArch64, 0x3E x86-64), and some bytes after it. Enough for sign, which reads the header and hashes the rest.
    /// </summary>
    private string ElfStandIn(string name, ushort machine)
    {
        byte[] bytes = new byte[4096];
        RandomNumberGenerator.Fill(bytes);
        "\u007fELF"u8.CopyTo(bytes);
        bytes[4] = 2; // ELFCLASS64
        bytes[5] = 1; // ELFDATA2LSB
        bytes[18] = (byte)machine;
        bytes[19] = (byte)(machine >> 8);
        string path = PathOf(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string SignedManifest(SigningKey key, string binary, string version = "1.4.2", string rid = "linux-x64", string name = "edgerelay-1.4.2-linux-x64.jws")
    {
        string manifest = PathOf(name);
        Result sign = Edgerelay("release", "sign", "--binary", binary, "--version", version, "--rid", rid, "--key", key.PrivateKeyPath, "--out", manifest);
        Assert.True(sign.Exit == 0, sign.ToString());
        return manifest;
    }

    private static string Sha256Of(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    private static string[] PartsOf(string manifestPath) => File.ReadAllText(manifestPath).Trim().Split('.');

    // ---- the whole flow, as the README shows it

    [Fact]
    public void Sign_then_verify_with_the_public_key_reports_the_signing_key_the_manifest_and_a_matching_binary()
    {
        SigningKey key = Keygen();
        string binary = ReleaseBinary();
        string manifest = PathOf("edgerelay-1.4.2-linux-x64.jws");
        long size = new FileInfo(binary).Length;
        string sha256 = Sha256Of(binary);

        Result sign = Edgerelay("release", "sign", "--binary", binary, "--version", "1.4.2", "--rid", "linux-x64", "--key", key.PrivateKeyPath, "--out", manifest);

        Assert.True(sign.Exit == 0, sign.ToString());
        Assert.Equal("", sign.Stdout);
        Assert.Contains($"Signed edgerelay 1.4.2 for linux-x64 ({size} bytes, sha256 {sha256}, binary \"edgerelay-1.4.2-linux-x64\") with key {key.KeyId}: {manifest}", sign.Stderr);

        Result verify = Edgerelay("release", "verify", "--manifest", manifest, "--trusted-key", key.PublicKey, "--binary", binary);

        Assert.True(verify.Exit == 0, verify.ToString());
        Assert.Equal("", verify.Stderr);
        Assert.Equal($"""
            {manifest}: good signature by key {key.KeyId}
              name:    edgerelay
              version: 1.4.2
              rid:     linux-x64
              size:    {size} bytes
              sha256:  {sha256}
              binary:  edgerelay-1.4.2-linux-x64
            {binary}: matches the manifest (size and SHA-256)

            """, verify.Stdout);
    }

    [Fact]
    public void A_floor_is_signed_into_the_manifest_and_verify_shows_it()
    {
        SigningKey key = Keygen();
        string binary = ReleaseBinary();
        string manifest = PathOf("edgerelay-1.4.2-linux-x64.jws");

        Result sign = Edgerelay("release", "sign", "--binary", binary, "--version", "1.4.2", "--rid", "linux-x64", "--key", key.PrivateKeyPath,
            "--floor", "1.4.0", "--out", manifest);

        Assert.True(sign.Exit == 0, sign.ToString());
        Assert.Contains("binary \"edgerelay-1.4.2-linux-x64\", floor 1.4.0) with key", sign.Stderr);
        Result verify = Edgerelay("release", "verify", "--manifest", manifest, "--trusted-key", key.PublicKey);
        Assert.True(verify.Exit == 0, verify.ToString());
        Assert.Contains("  binary:  edgerelay-1.4.2-linux-x64\n  floor:   1.4.0 (no update below it once committed)\n", verify.Stdout);
    }

    [Fact]
    public void A_guard_whose_release_already_ended_does_nothing_and_exits_at_once()
    {
        // The PID given is not the guard's parent (the release ended before the guard looked): nothing is read or written.
        Result guard = Edgerelay("release", "guard", "--state-directory", PathOf("state"), "--slot", "a", "--attempt", "1",
            "--pid", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "0");

        Assert.True(guard.Exit == 0, guard.ToString());
        Assert.Equal("", guard.Stderr);
        Assert.False(Directory.Exists(PathOf("state")));
    }

    [Fact]
    public void The_manifest_is_a_compact_jws_es256_over_exactly_the_manifest_json_that_any_jws_library_can_check()
    {
        SigningKey key = Keygen();
        string binary = ReleaseBinary();

        string[] parts = PartsOf(SignedManifest(key, binary));

        Assert.Equal(3, parts.Length);
        Assert.Equal($$"""{"alg":"ES256","kid":"{{key.KeyId}}"}""", Encoding.UTF8.GetString(Base64Url.DecodeFromChars(parts[0])));
        Assert.Equal(
            $$"""{"name":"edgerelay","version":"1.4.2","rid":"linux-x64","size":{{new FileInfo(binary).Length}},"sha256":"{{Sha256Of(binary)}}","binary":"edgerelay-1.4.2-linux-x64"}""",
            Encoding.UTF8.GetString(Base64Url.DecodeFromChars(parts[1])));
        using var publicKey = ECDsa.Create();
        publicKey.ImportSubjectPublicKeyInfo(Convert.FromBase64String(key.PublicKey), out _);
        Assert.True(publicKey.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), Base64Url.DecodeFromChars(parts[2]),
            HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
    }

    [Fact]
    public void Sign_without_out_writes_the_manifest_to_standard_output_with_the_binary_url_given()
    {
        SigningKey key = Keygen();
        string binary = ElfStandIn("edgerelay-2.0-linux-arm64", machine: 0xB7);

        Result sign = Edgerelay("release", "sign", "--binary", binary, "--version", "2.0", "--rid", "linux-arm64", "--key", key.PrivateKeyPath,
            "--binary-url", "https://cdn.example.com/edgerelay/2.0/edgerelay-arm64");

        Assert.True(sign.Exit == 0, sign.ToString());
        Assert.Equal("", sign.Stderr);
        string[] lines = sign.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string payload = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(Assert.Single(lines).Split('.')[1]));
        Assert.Contains("\"version\":\"2.0\",\"rid\":\"linux-arm64\",\"size\":4096,", payload);
        Assert.EndsWith("\"binary\":\"https://cdn.example.com/edgerelay/2.0/edgerelay-arm64\"}", payload);

        string manifest = PathOf("stdout.jws");
        File.WriteAllText(manifest, sign.Stdout);
        Result verify = Edgerelay("release", "verify", "--manifest", manifest, "--trusted-key", key.PublicKey, "--binary", binary);
        Assert.True(verify.Exit == 0, verify.ToString());
        Assert.Contains("  rid:     linux-arm64\n", verify.Stdout);
    }

    [Fact]
    public void Verify_accepts_any_of_several_trusted_keys_given_as_text_or_as_a_file()
    {
        SigningKey old = Keygen("old.pem");
        SigningKey next = Keygen("next.pem");
        string manifest = SignedManifest(next, ReleaseBinary());
        string keyFile = PathOf("next.pub");
        File.WriteAllText(keyFile, PemEncoding.WriteString("PUBLIC KEY", Convert.FromBase64String(next.PublicKey)) + "\n");

        Result verify = Edgerelay("release", "verify", "--manifest", manifest, "--trusted-key", old.PublicKey, $"--trusted-key={keyFile}");

        Assert.True(verify.Exit == 0, verify.ToString());
        Assert.Contains($"good signature by key {next.KeyId}", verify.Stdout);
    }

    // ---- verify refuses

    [Fact]
    public void Verify_with_another_key_is_refused_with_exit_3_naming_the_key_that_signed_and_the_trusted_ones()
    {
        SigningKey signer = Keygen("signer.pem");
        SigningKey other = Keygen("other.pem");
        string manifest = SignedManifest(signer, ReleaseBinary());

        Result verify = Edgerelay("release", "verify", "--manifest", manifest, "--trusted-key", other.PublicKey);

        Assert.True(verify.Exit == 3, verify.ToString());
        Assert.Contains($"edgerelay release verify: {manifest}: refused: signed by key \"{signer.KeyId}\", which is not one of the trusted keys (--trusted-key)", verify.Stderr);
        Assert.Contains($"  trusted: {other.KeyId}", verify.Stderr);
        Assert.Equal("", verify.Stdout);
    }

    [Fact]
    public void A_manifest_changed_after_signing_is_refused_as_a_bad_signature_and_nothing_of_it_is_printed()
    {
        SigningKey key = Keygen();
        string manifest = SignedManifest(key, ReleaseBinary());
        string[] parts = PartsOf(manifest);
        // Another version under the same header and signature: what a tampering mirror would serve.
        string payload = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(parts[1])).Replace("\"1.4.2\"", "\"9.9.9\"", StringComparison.Ordinal);
        File.WriteAllText(manifest, $"{parts[0]}.{Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload))}.{parts[2]}\n");

        Result verify = Edgerelay("release", "verify", "--manifest", manifest, "--trusted-key", key.PublicKey);

        Assert.True(verify.Exit == 3, verify.ToString());
        Assert.Contains($"{manifest}: refused: bad signature (key \"{key.KeyId}\"): the document was changed after signing", verify.Stderr);
        Assert.Equal("", verify.Stdout);
    }

    [Fact]
    public void A_file_that_is_not_a_signed_manifest_is_refused_with_exit_3()
    {
        SigningKey key = Keygen();
        string manifest = PathOf("release.jws");
        File.WriteAllText(manifest, """{"name":"edgerelay","version":"1.4.2"}""");

        Result verify = Edgerelay("release", "verify", "--manifest", manifest, "--trusted-key", key.PublicKey);

        Assert.True(verify.Exit == 3, verify.ToString());
        Assert.Contains("refused: not a signed document (expected a JWS in compact form", verify.Stderr);
    }

    [Fact]
    public void A_good_signature_over_something_that_is_not_a_release_manifest_exits_2_saying_what_is_wrong()
    {
        SigningKey key = Keygen();
        // A configuration document signed with the same key: a good signature, the wrong kind of document.
        string manifest = PathOf("venue-12.jws");
        using (var ecdsa = ECDsa.Create())
        {
            ecdsa.ImportFromPem(File.ReadAllText(key.PrivateKeyPath));
            string header = Base64Url.EncodeToString(Encoding.UTF8.GetBytes($$"""{"alg":"ES256","kid":"{{key.KeyId}}"}"""));
            string signingInput = header + "." + Base64Url.EncodeToString("""{"version":42,"realm":"venue-12.example.com"}"""u8);
            byte[] signature = ecdsa.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            File.WriteAllText(manifest, signingInput + "." + Base64Url.EncodeToString(signature));
        }

        Result verify = Edgerelay("release", "verify", "--manifest", manifest, "--trusted-key", key.PublicKey);

        Assert.True(verify.Exit == 2, verify.ToString());
        Assert.Contains($"{manifest}: good signature by key {key.KeyId}, but not a release manifest: the release manifest has an unknown key \"realm\"", verify.Stderr);
    }

    [Fact]
    public void A_binary_changed_in_one_byte_does_not_match_its_manifest_exit_1_naming_both_hashes()
    {
        SigningKey key = Keygen();
        string binary = ReleaseBinary();
        string expected = Sha256Of(binary);
        string manifest = SignedManifest(key, binary);
        using (var stream = new FileStream(binary, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = stream.Length / 2;
            int b = stream.ReadByte();
            stream.Position--;
            stream.WriteByte((byte)(b ^ 0x01));
        }

        Result verify = Edgerelay("release", "verify", "--manifest", manifest, "--trusted-key", key.PublicKey, "--binary", binary);

        Assert.True(verify.Exit == 1, verify.ToString());
        Assert.Contains($"edgerelay release verify: --binary {binary} does not match the manifest: its SHA-256 is {Sha256Of(binary)}, the manifest says {expected} (a box would refuse it)", verify.Stderr);
        // The manifest itself is good, and says so.
        Assert.Contains($"good signature by key {key.KeyId}", verify.Stdout);
        Assert.DoesNotContain("matches", verify.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void A_binary_of_another_size_does_not_match_its_manifest_exit_1_naming_both_sizes()
    {
        SigningKey key = Keygen();
        string binary = ReleaseBinary();
        long size = new FileInfo(binary).Length;
        string manifest = SignedManifest(key, binary);
        File.AppendAllText(binary, "\n");

        Result verify = Edgerelay("release", "verify", "--manifest", manifest, "--trusted-key", key.PublicKey, "--binary", binary);

        Assert.True(verify.Exit == 1, verify.ToString());
        Assert.Contains($"does not match the manifest: it is {size + 1} bytes, the manifest says {size}", verify.Stderr);
    }

    [Fact]
    public void Verify_of_a_missing_manifest_or_binary_says_it_cannot_read_it_with_exit_1()
    {
        SigningKey key = Keygen();
        string manifest = SignedManifest(key, ReleaseBinary());

        Result noManifest = Edgerelay("release", "verify", "--manifest", PathOf("nothing.jws"), "--trusted-key", key.PublicKey);
        Result noBinary = Edgerelay("release", "verify", "--manifest", manifest, "--trusted-key", key.PublicKey, "--binary", PathOf("nothing"));

        Assert.True(noManifest.Exit == 1, noManifest.ToString());
        Assert.Contains($"edgerelay release verify: cannot read {PathOf("nothing.jws")}: no such file", noManifest.Stderr);
        Assert.True(noBinary.Exit == 1, noBinary.ToString());
        Assert.Contains($"edgerelay release verify: cannot read --binary {PathOf("nothing")}: no such file", noBinary.Stderr);
    }

    // ---- sign refuses, and signs nothing

    [Theory]
    [InlineData("--version", "1.4.x", "--version \"1.4.x\" is not a release version: expected two to four numbers joined by dots, e.g. 1.4.2")]
    [InlineData("--version", "v1.4.2", "--version \"v1.4.2\" is not a release version")]
    [InlineData("--version", "1", "--version \"1\" is not a release version")]
    [InlineData("--version", "1.4.2-rc1", "--version \"1.4.2-rc1\" is not a release version")]
    [InlineData("--rid", "linux-arm", "--rid \"linux-arm\" is not a runtime EdgeRelay is built for: expected linux-x64 or linux-arm64")]
    [InlineData("--rid", "win-x64", "--rid \"win-x64\" is not a runtime EdgeRelay is built for: expected linux-x64 or linux-arm64")]
    [InlineData("--floor", "1.4.3", "--floor \"1.4.3\" is not a release version at most --version 1.4.2")]
    [InlineData("--floor", "latest", "--floor \"latest\" is not a release version at most --version 1.4.2")]
    [InlineData("--binary-url", "http://releases.example.com/edgerelay-1.4.2-linux-x64", "--binary-url \"http://releases.example.com/edgerelay-1.4.2-linux-x64\" is neither an https:// URL nor a path relative to the manifest's URL")]
    public void Sign_refuses_a_bad_value_with_exit_2_naming_the_flag_the_value_and_what_is_expected(string flag, string value, string expected)
    {
        SigningKey key = Keygen();
        string binary = ReleaseBinary();
        var values = new Dictionary<string, string> { ["--binary"] = binary, ["--version"] = "1.4.2", ["--rid"] = "linux-x64", ["--key"] = key.PrivateKeyPath };
        values[flag] = value;
        string manifest = PathOf("release.jws");

        Result sign = Edgerelay(["release", "sign", .. values.SelectMany(v => new[] { v.Key, v.Value }), "--out", manifest]);

        Assert.True(sign.Exit == 2, sign.ToString());
        Assert.Contains($"edgerelay release sign: {expected}", sign.Stderr);
        Assert.Equal("", sign.Stdout);
        Assert.False(File.Exists(manifest));
    }

    [Fact]
    public void Sign_refuses_a_binary_built_for_another_architecture_than_the_rid_says()
    {
        SigningKey key = Keygen();
        string arm64 = ElfStandIn("edgerelay-arm64", machine: 0xB7);
        string x64 = ReleaseBinary();

        Result armAsX64 = Edgerelay("release", "sign", "--binary", arm64, "--version", "1.4.2", "--rid", "linux-x64", "--key", key.PrivateKeyPath);
        Result x64AsArm = Edgerelay("release", "sign", "--binary", x64, "--version", "1.4.2", "--rid", "linux-arm64", "--key", key.PrivateKeyPath);

        Assert.True(armAsX64.Exit == 2, armAsX64.ToString());
        Assert.Contains($"edgerelay release sign: --binary {arm64} is built for AArch64 (linux-arm64), not for x86-64 as --rid linux-x64 says: nothing signed", armAsX64.Stderr);
        Assert.Equal("", armAsX64.Stdout);
        Assert.True(x64AsArm.Exit == 2, x64AsArm.ToString());
        Assert.Contains($"--binary {x64} is built for x86-64 (linux-x64), not for AArch64 as --rid linux-arm64 says", x64AsArm.Stderr);
    }

    [Fact]
    public void Sign_refuses_a_file_that_is_not_an_executable()
    {
        SigningKey key = Keygen();
        string binary = PathOf("edgerelay.tar.gz");
        File.WriteAllBytes(binary, [0x1F, 0x8B, 0x08, 0x00, .. new byte[100]]);

        Result sign = Edgerelay("release", "sign", "--binary", binary, "--version", "1.4.2", "--rid", "linux-x64", "--key", key.PrivateKeyPath);

        Assert.True(sign.Exit == 2, sign.ToString());
        Assert.Contains($"--binary {binary} is not an ELF executable", sign.Stderr);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(ReleaseManifest.MaxSize + 1)]
    public void Sign_refuses_a_binary_that_is_empty_or_larger_than_a_box_takes(long size)
    {
        SigningKey key = Keygen();
        string binary = PathOf("edgerelay-huge");
        using (var file = new FileStream(binary, FileMode.CreateNew))
        {
            file.SetLength(size); // sparse: no disk is spent on it
        }

        Result sign = Edgerelay("release", "sign", "--binary", binary, "--version", "1.4.2", "--rid", "linux-x64", "--key", key.PrivateKeyPath);

        Assert.True(sign.Exit == 2, sign.ToString());
        Assert.Contains($"edgerelay release sign: --binary {binary} is {size} bytes: a release is between 1 and {ReleaseManifest.MaxSize} bytes", sign.Stderr);
        Assert.Equal("", sign.Stdout);
    }

    [Fact]
    public void Sign_of_a_missing_binary_or_with_a_public_key_fails_with_exit_1_saying_why()
    {
        SigningKey key = Keygen();
        string publicKey = PathOf("release-key.pub");
        File.WriteAllText(publicKey, PemEncoding.WriteString("PUBLIC KEY", Convert.FromBase64String(key.PublicKey)));

        Result missing = Edgerelay("release", "sign", "--binary", PathOf("nothing"), "--version", "1.4.2", "--rid", "linux-x64", "--key", key.PrivateKeyPath);
        Result wrongKey = Edgerelay("release", "sign", "--binary", ReleaseBinary(), "--version", "1.4.2", "--rid", "linux-x64", "--key", publicKey);

        Assert.True(missing.Exit == 1, missing.ToString());
        Assert.Contains($"edgerelay release sign: cannot read --binary {PathOf("nothing")}: no such file", missing.Stderr);
        Assert.True(wrongKey.Exit == 1, wrongKey.ToString());
        Assert.Contains($"edgerelay release sign: --key {publicKey} is not an ECDSA P-256 private key in PEM: it holds a public key", wrongKey.Stderr);
    }

    // ---- usage

    [Theory]
    [InlineData("--binary", "--binary FILE is needed")]
    [InlineData("--version", "--version VERSION is needed")]
    [InlineData("--rid", "--rid RID is needed")]
    [InlineData("--key", "--key KEY.pem is needed")]
    public void Sign_without_a_required_flag_is_a_usage_error_naming_it(string left, string expected)
    {
        var values = new Dictionary<string, string> { ["--binary"] = "edgerelay", ["--version"] = "1.4.2", ["--rid"] = "linux-x64", ["--key"] = "release-key.pem" };
        values.Remove(left);

        Result sign = Edgerelay(["release", "sign", .. values.SelectMany(v => new[] { v.Key, v.Value })]);

        Assert.True(sign.Exit == 64, sign.ToString());
        Assert.StartsWith($"edgerelay release sign: {expected}\n", sign.Stderr, StringComparison.Ordinal);
        Assert.Contains("Usage:\n  edgerelay release sign --binary FILE --version VERSION --rid RID --key KEY.pem", sign.Stderr);
        Assert.Equal("", sign.Stdout);
    }

    [Theory]
    [InlineData(new[] { "release", "sign", "--binary", "edgerelay", "--versoin", "1.4.2" }, "edgerelay release sign: unknown option \"--versoin\"")]
    [InlineData(new[] { "release", "sign", "--binary", "edgerelay", "--version" }, "edgerelay release sign: --version needs a value")]
    [InlineData(new[] { "release", "sign", "--binary", "a", "--version", "1.4.2", "--rid", "linux-x64", "--key", "k.pem", "extra" }, "edgerelay release sign: unexpected argument \"extra\"")]
    [InlineData(new[] { "release", "verify", "--trusted-key", "MFkw" }, "edgerelay release verify: --manifest FILE is needed")]
    [InlineData(new[] { "release", "verify", "--manifest", "release.jws" }, "edgerelay release verify: --trusted-key KEY is needed")]
    [InlineData(new[] { "release", "publish" }, "edgerelay release: unknown command \"publish\" (expected sign or verify)")]
    [InlineData(new[] { "release", "guard", "--state-directory", "/tmp", "--slot", "a", "--attempt", "1" }, "edgerelay release guard: --state-directory DIR, --slot SLOT, --attempt N and --pid PID are needed")]
    [InlineData(new[] { "release", "guard", "--state-directory", "/tmp", "--slot", "a", "--attempt", "1", "--pid", "1" }, "edgerelay release guard: --state-directory DIR")]
    public void Mistakes_on_the_command_line_are_usage_errors_with_exit_64(string[] args, string expected)
    {
        Result run = Edgerelay(args);

        Assert.True(run.Exit == 64, run.ToString());
        Assert.StartsWith(expected, run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Release_help_prints_the_usage_and_release_alone_prints_it_as_an_error()
    {
        Result help = Edgerelay("release", "--help");
        Result signHelp = Edgerelay("release", "sign", "--help");
        Result alone = Edgerelay("release");
        Result top = Edgerelay("--help");

        Assert.True(help.Exit == 0, help.ToString());
        Assert.Contains("edgerelay release verify --manifest FILE --trusted-key KEY", help.Stdout);
        Assert.Contains("Exit codes: 0 good, 1 a binary that does not match", help.Stdout);
        Assert.True(signHelp.Exit == 0, signHelp.ToString());
        Assert.Equal(help.Stdout, signHelp.Stdout);
        Assert.True(alone.Exit == 64, alone.ToString());
        Assert.Equal(help.Stdout, alone.Stderr);
        Assert.Contains("edgerelay release sign|verify ...", top.Stdout);
    }

    [GeneratedRegex("""Key id:\s+(?<kid>[A-Za-z0-9_-]{16})\nPublic key, for cloud\.trustedKeys:\n(?<public>[A-Za-z0-9+/=]+)\n""")]
    private static partial Regex KeygenOutput();

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
