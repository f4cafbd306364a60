using System.Buffers.Text;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using EdgeRelay.Tests.Support;
using Result = EdgeRelay.Tests.Support.BinaryRun;

namespace EdgeRelay.Tests.Cli;

/// <summary>
/// The operator's tools for cloud configuration as an operator runs them: the shipped Native AOT binary,
/// real files in a directory of the test's own, exit codes (0 good, 1 other errors, 2 not a valid
/// configuration, 3 signature refused, 64 usage) and the words that tell the operator what to do.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class ConfigCommandsTests : IDisposable
{
    /// <summary>A bound on a run that should take a fraction of a second; never an assertion about time.</summary>
    private static readonly TimeSpan RunLimit = TimeSpan.FromSeconds(60);

    private const string CloudUrl = "https://config.example.com/boxes/venue-12.jws";

    private readonly string _directory = Directory.CreateTempSubdirectory("edgerelay-config-").FullName;

    /// <summary>A signing key as keygen made it: the private key file, and what keygen printed.</summary>
    private sealed record SigningKey(string PrivateKeyPath, string KeyId, string PublicKey);

    /// <summary>Runs the binary in the test's directory with nothing on standard input.</summary>
    private Result Edgerelay(params string[] args) => AotBinary.Run(args, RunLimit, workingDirectory: _directory);

    private string PathOf(string name) => Path.Combine(_directory, name);

    private string Write(string name, string text)
    {
        string path = PathOf(name);
        File.WriteAllText(path, text);
        return path;
    }

    private SigningKey Keygen(string name = "signing.pem")
    {
        string path = PathOf(name);
        Result keygen = Edgerelay("keygen", "--out", path);
        Assert.True(keygen.Exit == 0, keygen.ToString());
        Match printed = KeygenOutput().Match(keygen.Stdout);
        Assert.True(printed.Success, keygen.ToString());
        return new SigningKey(path, printed.Groups["kid"].Value, printed.Groups["public"].Value);
    }

    private static string CloudDocument(long version = 7) => $$"""
        {
          "version": {{version}},
          "realm": "venue-12.example.com",
          "listeners": [
            { "transport": "udp", "endpoint": "0.0.0.0:3478" },
            { "transport": "tcp", "endpoint": "0.0.0.0:3478" }
          ],
          "relay": { "externalAddress": "203.0.113.7", "portRange": "49152-65535" },
          "auth": { "users": { "alice": "correct horse battery staple" }, "sharedSecrets": ["rest-api-secret-1"] },
          "peers": { "allowLoopback": false, "allow": ["10.20.0.0/16"], "deny": [] }
        }
        """;

    private string Bootstrap(params string[] trustedKeys) => $$"""
        {
          "stateDirectory": "{{PathOf("state")}}",
          "cloud": {
            "url": "{{CloudUrl}}",
            "trustedKeys": [{{string.Join(", ", trustedKeys.Select(k => $"\"{k}\""))}}]
          }
        }
        """;

    private string SignedFile(SigningKey key, string document, string name = "venue-12.jws")
    {
        string documentPath = Write(Path.ChangeExtension(name, ".json"), document);
        string signedPath = PathOf(name);
        Result sign = Edgerelay("config", "sign", "--key", key.PrivateKeyPath, "--out", signedPath, documentPath);
        Assert.True(sign.Exit == 0, sign.ToString());
        return signedPath;
    }

    /// <summary>
    /// A JWS made without edgerelay, as "any JWS library" would (RFC 7515 §7.1, ES256): how a test gets a
    /// good signature over a document that <c>config sign</c> refuses to sign.
    /// </summary>
    private static string SignWithoutEdgerelay(SigningKey key, string payload, string header = "")
    {
        using var ecdsa = ECDsa.Create();
        ecdsa.ImportFromPem(File.ReadAllText(key.PrivateKeyPath));
        string protectedHeader = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(
            header.Length > 0 ? header : $$"""{"alg":"ES256","kid":"{{key.KeyId}}"}"""));
        string signingInput = protectedHeader + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload));
        byte[] signature = ecdsa.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    // ---- the whole flow, as the README shows it

    [Fact]
    public void Keygen_sign_and_verify_with_the_printed_public_key_report_a_good_signature_by_that_key_and_the_version()
    {
        SigningKey key = Keygen();
        string document = Write("venue-12.json", CloudDocument(version: 42));
        string signed = PathOf("venue-12.jws");

        Result sign = Edgerelay("config", "sign", "--key", key.PrivateKeyPath, "--out", signed, document);
        Assert.True(sign.Exit == 0, sign.ToString());
        Assert.Equal("", sign.Stdout);
        Assert.Contains($"Signed version 42 of {document} with key {key.KeyId}: {signed}", sign.Stderr);
        Assert.True(File.Exists(signed));

        Result verify = Edgerelay("config", "verify", "--trusted-key", key.PublicKey, signed);
        Assert.True(verify.Exit == 0, verify.ToString());
        Assert.Equal("", verify.Stderr);
        Assert.Contains($"{signed}: good signature by key {key.KeyId}; version 42; 2 listener(s), 1 user(s), 1 shared secret(s)", verify.Stdout);
    }

    [Fact]
    public void Verify_with_a_bootstrap_file_trusts_the_keys_of_its_cloud_section_and_merges_the_document_into_it()
    {
        SigningKey key = Keygen();
        string signed = SignedFile(key, CloudDocument(version: 3));
        string bootstrap = Write("bootstrap.json", Bootstrap(key.PublicKey));

        Result verify = Edgerelay("config", "verify", "--bootstrap", bootstrap, signed);

        Assert.True(verify.Exit == 0, verify.ToString());
        Assert.Contains($"good signature by key {key.KeyId}; version 3; 2 listener(s)", verify.Stdout);
        Assert.Contains($"cloud {CloudUrl} with 1 trusted key(s)", verify.Stdout);
    }

    [Theory]
    [InlineData("pem")]
    [InlineData("base64")]
    public void Verify_reads_the_trusted_key_from_a_file_as_pem_or_as_base64(string form)
    {
        SigningKey key = Keygen();
        string signed = SignedFile(key, CloudDocument());
        string text = form == "pem"
            ? PemEncoding.WriteString("PUBLIC KEY", Convert.FromBase64String(key.PublicKey)) + "\n"
            : key.PublicKey + "\n";
        string keyFile = Write($"trusted.{form}", text);

        Result verify = Edgerelay("config", "verify", "--trusted-key", keyFile, signed);

        Assert.True(verify.Exit == 0, verify.ToString());
        Assert.Contains($"good signature by key {key.KeyId}; version 7", verify.Stdout);
    }

    [Fact]
    public void Verify_accepts_the_key_options_in_the_equals_form_and_any_of_several_trusted_keys()
    {
        SigningKey old = Keygen("old.pem");
        SigningKey next = Keygen("next.pem");
        string signed = SignedFile(next, CloudDocument());

        Result verify = Edgerelay("config", "verify", "--trusted-key", old.PublicKey, $"--trusted-key={next.PublicKey}", signed);

        Assert.True(verify.Exit == 0, verify.ToString());
        Assert.Contains($"good signature by key {next.KeyId}", verify.Stdout);
    }

    // ---- keygen

    [Fact]
    public void Keygen_writes_a_pkcs8_pem_private_key_for_the_owner_only_and_prints_its_spki_and_key_id()
    {
        SigningKey key = Keygen();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key.PrivateKeyPath));
        string pem = File.ReadAllText(key.PrivateKeyPath);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", pem);
        Assert.Contains("-----END PRIVATE KEY-----", pem);

        // The public key and key id follow from the private key as TrustedKey says: base64 of the
        // SubjectPublicKeyInfo, and base64url of the first 12 bytes of its SHA-256.
        using var ecdsa = ECDsa.Create();
        ecdsa.ImportFromPem(pem);
        Assert.Equal(ECCurve.NamedCurves.nistP256.Oid.Value, ecdsa.ExportParameters(false).Curve.Oid.Value);
        byte[] spki = ecdsa.ExportSubjectPublicKeyInfo();
        Assert.Equal(Convert.ToBase64String(spki), key.PublicKey);
        Assert.Equal(Base64Url.EncodeToString(SHA256.HashData(spki).AsSpan(0, 12)), key.KeyId);
        Assert.Equal(16, key.KeyId.Length);
    }

    [Fact]
    public void Keygen_makes_a_new_key_each_time()
    {
        Assert.NotEqual(Keygen("a.pem").KeyId, Keygen("b.pem").KeyId);
    }

    [Fact]
    public void Keygen_never_overwrites_an_existing_file()
    {
        string path = Write("signing.pem", "the key that signs every box\n");

        Result keygen = Edgerelay("keygen", "--out", path);

        Assert.True(keygen.Exit == 1, keygen.ToString());
        Assert.Contains($"edgerelay keygen: {path} exists already: it is never overwritten", keygen.Stderr);
        Assert.DoesNotContain("IO_", keygen.Stderr, StringComparison.Ordinal);
        Assert.Equal("", keygen.Stdout);
        Assert.Equal("the key that signs every box\n", File.ReadAllText(path));
    }

    [Fact]
    public void Keygen_into_a_missing_directory_says_it_cannot_write_there()
    {
        string path = PathOf("no/such/dir/signing.pem");

        Result keygen = Edgerelay("keygen", "--out", path);

        Assert.True(keygen.Exit == 1, keygen.ToString());
        Assert.Contains($"edgerelay keygen: cannot write {path}: no such directory", keygen.Stderr);
    }

    [Fact]
    public void Keygen_without_out_is_a_usage_error_that_prints_the_usage()
    {
        Result keygen = Edgerelay("keygen");

        Assert.True(keygen.Exit == 64, keygen.ToString());
        Assert.Contains("edgerelay keygen: --out FILE is needed", keygen.Stderr);
        Assert.Contains("Usage: edgerelay keygen --out FILE", keygen.Stderr);
        Assert.Equal("", keygen.Stdout);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_directory));
    }

    [Fact]
    public void Keygen_with_an_operand_instead_of_out_is_a_usage_error()
    {
        Result keygen = Edgerelay("keygen", "signing.pem");

        Assert.True(keygen.Exit == 64, keygen.ToString());
        Assert.Contains("edgerelay keygen: unexpected argument \"signing.pem\"", keygen.Stderr);
        Assert.False(File.Exists(PathOf("signing.pem")));
    }

    // ---- sign refuses, and signs nothing

    [Theory]
    [InlineData("""{ "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }] }""",
        "version: missing: a cloud document needs a version")]
    [InlineData("""{ "version": 0, "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }] }""",
        "version: 0 is not valid: expected a whole number from 1")]
    [InlineData("""{ "version": 2, "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }], "peers": { "allow": ["10.20.0.1/16"] } }""",
        "peers.allow[0]: \"10.20.0.1/16\" is not valid: expected a CIDR")]
    [InlineData("""{ "version": 2, "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }], "relay": { "adress": "0.0.0.0" } }""",
        "relay.adress: unknown key")]
    [InlineData("""{ "version": 2, "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }], "stateDirectory": "/var/lib/edgerelay" }""",
        "stateDirectory: only the bootstrap file may set it")]
    [InlineData("""{ "version": 2, "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }], "cloud": { "url": "https://elsewhere.example.com/x.jws" } }""",
        "cloud.url: only the bootstrap file may set it")]
    [InlineData("""{ "version": 2 }""",
        "listeners: missing")]
    public void Sign_refuses_an_invalid_cloud_document_naming_the_key_and_signs_nothing(string document, string expected)
    {
        SigningKey key = Keygen();
        string documentPath = Write("venue-12.json", document);
        string signed = PathOf("venue-12.jws");

        Result sign = Edgerelay("config", "sign", "--key", key.PrivateKeyPath, "--out", signed, documentPath);

        Assert.True(sign.Exit == 2, sign.ToString());
        Assert.Contains($"edgerelay config sign: {documentPath} is not a valid cloud document, nothing signed: {expected}", sign.Stderr);
        Assert.Equal("", sign.Stdout);
        Assert.False(File.Exists(signed));
        Assert.Equal(new[] { key.PrivateKeyPath, documentPath }.Order(StringComparer.Ordinal), Directory.GetFileSystemEntries(_directory).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("text", "it holds no PEM block")]
    [InlineData("rsa-pkcs1", "it holds a \"RSA PRIVATE KEY\" PEM block")]
    [InlineData("rsa-pkcs8", "it holds a key that is not an ECDSA key")]
    [InlineData("p384", "its curve is not P-256")]
    [InlineData("public", "it holds a public key; signing needs the private key file that keygen wrote")]
    public void Sign_refuses_a_key_file_that_is_not_an_ecdsa_p256_private_key_and_says_what_it_holds(string kind, string expected)
    {
        string keyText;
        switch (kind)
        {
            case "text":
                keyText = "correct horse battery staple\n";
                break;
            case "rsa-pkcs1":
            case "rsa-pkcs8":
                using (var rsa = RSA.Create(2048))
                {
                    keyText = kind == "rsa-pkcs1" ? rsa.ExportRSAPrivateKeyPem() : rsa.ExportPkcs8PrivateKeyPem();
                }
                break;
            case "p384":
                using (var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384))
                {
                    keyText = p384.ExportPkcs8PrivateKeyPem();
                }
                break;
            default:
                SigningKey real = Keygen("real.pem");
                keyText = PemEncoding.WriteString("PUBLIC KEY", Convert.FromBase64String(real.PublicKey));
                break;
        }
        string keyPath = Write("key.pem", keyText);
        string documentPath = Write("venue-12.json", CloudDocument());

        Result sign = Edgerelay("config", "sign", "--key", keyPath, documentPath);

        Assert.True(sign.Exit == 1, sign.ToString());
        Assert.Contains($"edgerelay config sign: {keyPath} is not an ECDSA P-256 private key in PEM: {expected}", sign.Stderr);
        Assert.Contains("(make one with `edgerelay keygen`)", sign.Stderr);
        Assert.DoesNotContain("Exception", sign.Stderr, StringComparison.Ordinal);
        Assert.Equal("", sign.Stdout);
    }

    [Fact]
    public void Sign_of_a_missing_document_says_it_cannot_read_it()
    {
        SigningKey key = Keygen();
        string missing = PathOf("venue-13.json");

        Result sign = Edgerelay("config", "sign", "--key", key.PrivateKeyPath, "--out", PathOf("venue-13.jws"), missing);

        Assert.True(sign.Exit == 1, sign.ToString());
        Assert.Contains($"edgerelay config sign: cannot read {missing}: no such file", sign.Stderr);
        Assert.False(File.Exists(PathOf("venue-13.jws")));
    }

    [Fact]
    public void Sign_with_a_missing_key_file_says_it_cannot_read_it()
    {
        string documentPath = Write("venue-12.json", CloudDocument());

        Result sign = Edgerelay("config", "sign", "--key", PathOf("nokey.pem"), documentPath);

        Assert.True(sign.Exit == 1, sign.ToString());
        Assert.Contains($"edgerelay config sign: cannot read {PathOf("nokey.pem")}: no such file", sign.Stderr);
    }

    [Fact]
    public void Sign_without_out_writes_the_signed_document_alone_to_standard_output_and_it_verifies()
    {
        SigningKey key = Keygen();
        string document = CloudDocument(version: 9);
        string documentPath = Write("venue-12.json", document);

        Result sign = Edgerelay("config", "sign", "--key", key.PrivateKeyPath, documentPath);

        Assert.True(sign.Exit == 0, sign.ToString());
        Assert.Equal("", sign.Stderr);
        string jws = sign.Stdout.TrimEnd('\n');
        Assert.Matches("^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$", jws);
        string[] parts = jws.Split('.');
        // The payload is the document exactly as written; the header names the algorithm and the key.
        Assert.Equal(document, Encoding.UTF8.GetString(Base64Url.DecodeFromChars(parts[1])));
        Assert.Equal($$"""{"alg":"ES256","kid":"{{key.KeyId}}"}""", Encoding.UTF8.GetString(Base64Url.DecodeFromChars(parts[0])));
        Assert.Equal(64, Base64Url.DecodeFromChars(parts[2]).Length);

        string signed = Write("venue-12.jws", sign.Stdout);
        Result verify = Edgerelay("config", "verify", "--trusted-key", key.PublicKey, signed);
        Assert.True(verify.Exit == 0, verify.ToString());
        Assert.Contains($"good signature by key {key.KeyId}; version 9", verify.Stdout);
    }

    // ---- verify refuses

    [Fact]
    public void Verify_refuses_a_payload_changed_after_signing_as_a_bad_signature()
    {
        SigningKey key = Keygen();
        string[] parts = File.ReadAllText(SignedFile(key, CloudDocument(version: 7))).Trim().Split('.');
        parts[1] = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(CloudDocument(version: 8)));
        string tampered = Write("tampered.jws", string.Join('.', parts));

        Result verify = Edgerelay("config", "verify", "--trusted-key", key.PublicKey, tampered);

        Assert.True(verify.Exit == 3, verify.ToString());
        Assert.Contains($"edgerelay config verify: {tampered}: refused: bad signature (key \"{key.KeyId}\")", verify.Stderr);
        Assert.Equal("", verify.Stdout);
    }

    [Fact]
    public void Verify_refuses_a_document_signed_by_a_key_that_is_not_trusted_and_lists_the_trusted_key_ids()
    {
        SigningKey trusted = Keygen("trusted.pem");
        SigningKey alsoTrusted = Keygen("also-trusted.pem");
        SigningKey stranger = Keygen("stranger.pem");
        string signed = SignedFile(stranger, CloudDocument());

        Result verify = Edgerelay("config", "verify", "--trusted-key", trusted.PublicKey, "--trusted-key", alsoTrusted.PublicKey, signed);

        Assert.True(verify.Exit == 3, verify.ToString());
        Assert.Contains($"refused: signed by key \"{stranger.KeyId}\", which is not in cloud.trustedKeys", verify.Stderr);
        Assert.Contains($"trusted: {trusted.KeyId}, {alsoTrusted.KeyId}", verify.Stderr);
        Assert.Equal("", verify.Stdout);
    }

    [Fact]
    public void Verify_with_a_bootstrap_file_refuses_a_key_not_in_its_trusted_keys()
    {
        SigningKey trusted = Keygen("trusted.pem");
        SigningKey stranger = Keygen("stranger.pem");
        string signed = SignedFile(stranger, CloudDocument());
        string bootstrap = Write("bootstrap.json", Bootstrap(trusted.PublicKey));

        Result verify = Edgerelay("config", "verify", "--bootstrap", bootstrap, signed);

        Assert.True(verify.Exit == 3, verify.ToString());
        Assert.Contains($"signed by key \"{stranger.KeyId}\", which is not in cloud.trustedKeys", verify.Stderr);
        Assert.Contains($"trusted: {trusted.KeyId}", verify.Stderr);
    }

    [Theory]
    [InlineData("this is not a signed document\n")]
    [InlineData("{ \"version\": 7 }")]
    [InlineData("a.b.c.d")]
    public void Verify_refuses_text_that_is_not_a_signed_document(string text)
    {
        SigningKey key = Keygen();
        string path = Write("garbage.jws", text);

        Result verify = Edgerelay("config", "verify", "--trusted-key", key.PublicKey, path);

        Assert.True(verify.Exit == 3, verify.ToString());
        Assert.Contains($"{path}: refused: not a signed document (expected a JWS in compact form", verify.Stderr);
    }

    [Fact]
    public void Verify_refuses_a_document_whose_header_names_another_algorithm()
    {
        SigningKey key = Keygen();
        string path = Write("none.jws", SignWithoutEdgerelay(key, CloudDocument(), $$"""{"alg":"none","kid":"{{key.KeyId}}"}"""));

        Result verify = Edgerelay("config", "verify", "--trusted-key", key.PublicKey, path);

        Assert.True(verify.Exit == 3, verify.ToString());
        Assert.Contains("refused: signed with an algorithm other than ES256", verify.Stderr);
    }

    [Fact]
    public void Verify_accepts_a_document_signed_by_another_jws_implementation()
    {
        SigningKey key = Keygen();
        string path = Write("other-tool.jws", SignWithoutEdgerelay(key, CloudDocument(version: 11)));

        Result verify = Edgerelay("config", "verify", "--trusted-key", key.PublicKey, path);

        Assert.True(verify.Exit == 0, verify.ToString());
        Assert.Contains($"good signature by key {key.KeyId}; version 11", verify.Stdout);
    }

    [Theory]
    [InlineData("""{ "version": 5, "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }], "peers": { "allow": ["10.20.0.1/16"] } }""", "peers.allow[0]")]
    [InlineData("""{ "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }] }""", "version: missing")]
    [InlineData("""{ "version": 5, "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }], "stateDirectory": "/tmp" }""", "stateDirectory: only the bootstrap file may set it")]
    [InlineData("not json", "not valid JSON")]
    public void Verify_of_a_good_signature_over_an_invalid_configuration_exits_2_naming_the_problem(string payload, string expected)
    {
        SigningKey key = Keygen();
        string path = Write("invalid.jws", SignWithoutEdgerelay(key, payload));
        string bootstrap = Write("bootstrap.json", Bootstrap(key.PublicKey));

        foreach (string[] trust in new[] { new[] { "--trusted-key", key.PublicKey }, new[] { "--bootstrap", bootstrap } })
        {
            Result verify = Edgerelay(["config", "verify", .. trust, path]);

            Assert.True(verify.Exit == 2, verify.ToString());
            Assert.Contains($"edgerelay config verify: {path}: good signature by key {key.KeyId}, but not a valid configuration: {expected}", verify.Stderr);
            Assert.Equal("", verify.Stdout);
        }
    }

    [Fact]
    public void Verify_with_a_bootstrap_file_without_a_cloud_section_exits_2()
    {
        SigningKey key = Keygen();
        string signed = SignedFile(key, CloudDocument());
        string bootstrap = Write("bootstrap.json", """{ "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }] }""");

        Result verify = Edgerelay("config", "verify", "--bootstrap", bootstrap, signed);

        Assert.True(verify.Exit == 2, verify.ToString());
        Assert.Contains($"edgerelay config verify: the bootstrap file {bootstrap} has no cloud section, so no trusted keys", verify.Stderr);
    }

    [Fact]
    public void Verify_with_an_invalid_bootstrap_file_exits_2_naming_the_key()
    {
        SigningKey key = Keygen();
        string signed = SignedFile(key, CloudDocument());
        string bootstrap = Write("bootstrap.json", $$"""{ "cloud": { "url": "http://config.example.com/x.jws", "trustedKeys": ["{{key.PublicKey}}"] } }""");

        Result verify = Edgerelay("config", "verify", "--bootstrap", bootstrap, signed);

        Assert.True(verify.Exit == 2, verify.ToString());
        Assert.Contains($"the bootstrap file {bootstrap} is not valid: cloud.url: \"http://config.example.com/x.jws\" is not valid: expected an https:// URL", verify.Stderr);
    }

    [Fact]
    public void Verify_with_a_missing_bootstrap_file_or_signed_document_says_it_cannot_read_it()
    {
        SigningKey key = Keygen();
        string signed = SignedFile(key, CloudDocument());

        Result noBootstrap = Edgerelay("config", "verify", "--bootstrap", PathOf("bootstrap.json"), signed);
        Assert.True(noBootstrap.Exit == 1, noBootstrap.ToString());
        Assert.Contains($"edgerelay config verify: cannot read {PathOf("bootstrap.json")}: no such file", noBootstrap.Stderr);

        Result noDocument = Edgerelay("config", "verify", "--trusted-key", key.PublicKey, PathOf("missing.jws"));
        Assert.True(noDocument.Exit == 1, noDocument.ToString());
        Assert.Contains($"edgerelay config verify: cannot read {PathOf("missing.jws")}: no such file", noDocument.Stderr);
    }

    [Fact]
    public void Verify_with_a_trusted_key_that_is_not_a_public_key_is_a_usage_error()
    {
        SigningKey key = Keygen();
        string signed = SignedFile(key, CloudDocument());

        Result text = Edgerelay("config", "verify", "--trusted-key", "not-a-key", signed);
        Assert.True(text.Exit == 64, text.ToString());
        Assert.Contains("--trusted-key not-a-key: expected the base64 of an ECDSA P-256 public key", text.Stderr);

        // The private key file by mistake: named whole, refused, and its content never echoed.
        Result privateKey = Edgerelay("config", "verify", "--trusted-key", key.PrivateKeyPath, signed);
        Assert.True(privateKey.Exit == 64, privateKey.ToString());
        Assert.Contains($"--trusted-key {key.PrivateKeyPath}: expected a \"PUBLIC KEY\" PEM block", privateKey.Stderr);
        string privateBody = File.ReadAllLines(key.PrivateKeyPath)[1];
        Assert.DoesNotContain(privateBody, privateKey.Stdout + privateKey.Stderr, StringComparison.Ordinal);

        // A P-384 public key is a key, but not one that can sign ES256.
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        Result otherCurve = Edgerelay("config", "verify", "--trusted-key", Convert.ToBase64String(p384.ExportSubjectPublicKeyInfo()), signed);
        Assert.True(otherCurve.Exit == 64, otherCurve.ToString());
        Assert.Contains("expected an ECDSA key on the P-256 curve (ES256)", otherCurve.Stderr);
    }

    [Fact]
    public void Verify_with_a_mistyped_trusted_key_file_says_there_is_no_such_file()
    {
        SigningKey key = Keygen();
        string signed = SignedFile(key, CloudDocument());
        string missing = PathOf("keys/trusted-public.pem");

        Result verify = Edgerelay("config", "verify", "--trusted-key", missing, signed);

        Assert.True(verify.Exit == 64, verify.ToString());
        Assert.Contains($"--trusted-key {missing}: no such file, and not a public key either", verify.Stderr);
    }

    // ---- validate

    [Fact]
    public void Validate_accepts_a_bootstrap_file_and_summarizes_it()
    {
        string path = Write("edgerelay.json", $$"""
            {
              "realm": "edgerelay.local",
              "listeners": [
                { "transport": "udp", "endpoint": "0.0.0.0:3478" },
                { "transport": "tcp", "endpoint": "0.0.0.0:3478" }
              ],
              "relay": { "address": "0.0.0.0", "externalAddress": "203.0.113.7", "portRange": "49152-65535" },
              "auth": { "users": { "alice": "correct horse battery staple" }, "sharedSecrets": ["rest-api-secret"] },
              "peers": { "allowLoopback": false, "allow": ["10.20.0.0/16"], "deny": [] },
              "status": { "endpoint": "0.0.0.0:8080" },
              "stateDirectory": "{{PathOf("state")}}"
            }
            """);

        Result validate = Edgerelay("config", "validate", path);

        Assert.True(validate.Exit == 0, validate.ToString());
        Assert.Equal($"{path}: valid configuration; version 0; 2 listener(s), 1 user(s), 1 shared secret(s)\n", validate.Stdout);
        Assert.Equal("", validate.Stderr);
    }

    [Fact]
    public void Validate_accepts_a_bootstrap_file_with_only_a_cloud_section_and_no_listeners()
    {
        SigningKey key = Keygen();
        string path = Write("bootstrap.json", Bootstrap(key.PublicKey));

        Result validate = Edgerelay("config", "validate", path);

        Assert.True(validate.Exit == 0, validate.ToString());
        Assert.Contains($"{path}: valid configuration; version 0; 0 listener(s), 0 user(s), 0 shared secret(s), cloud {CloudUrl} with 1 trusted key(s)", validate.Stdout);
    }

    [Fact]
    public void Validate_with_cloud_accepts_a_cloud_document()
    {
        string path = Write("venue-12.json", CloudDocument(version: 42));

        Result validate = Edgerelay("config", "validate", "--cloud", path);

        Assert.True(validate.Exit == 0, validate.ToString());
        Assert.Contains($"{path}: valid cloud document; version 42; 2 listener(s), 1 user(s), 1 shared secret(s)", validate.Stdout);
    }

    [Fact]
    public void Validate_without_cloud_reads_a_cloud_document_as_a_bootstrap_file_which_may_carry_a_version()
    {
        string path = Write("venue-12.json", CloudDocument(version: 42));

        Result validate = Edgerelay("config", "validate", path);

        Assert.True(validate.Exit == 0, validate.ToString());
        Assert.Contains($"{path}: valid configuration; version 42; 2 listener(s)", validate.Stdout);
    }

    [Fact]
    public void Validate_applies_the_cloud_document_rules_only_with_cloud()
    {
        // What a bootstrap file may say and a cloud document may not: no version, a stateDirectory.
        string path = Write("edgerelay.json", $$"""
            { "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }], "stateDirectory": "{{PathOf("state")}}" }
            """);

        Result asBootstrap = Edgerelay("config", "validate", path);
        Assert.True(asBootstrap.Exit == 0, asBootstrap.ToString());
        Assert.Contains("valid configuration; version 0", asBootstrap.Stdout);

        Result asCloud = Edgerelay("config", "validate", "--cloud", path);
        Assert.True(asCloud.Exit == 2, asCloud.ToString());
        Assert.Contains($"edgerelay config validate: {path}: version: missing", asCloud.Stderr);
        Assert.Equal("", asCloud.Stdout);
    }

    [Fact]
    public void Validate_of_a_signed_document_checks_its_payload_and_says_the_signature_was_not_checked()
    {
        SigningKey key = Keygen();
        string signed = SignedFile(key, CloudDocument(version: 5));

        Result validate = Edgerelay("config", "validate", signed);

        Assert.True(validate.Exit == 0, validate.ToString());
        Assert.Contains($"{signed}: valid signed cloud document (signature not checked: use `config verify`); version 5; 2 listener(s)", validate.Stdout);
    }

    [Fact]
    public void Validate_of_a_signed_invalid_document_names_the_key_of_the_payload()
    {
        SigningKey key = Keygen();
        string path = Write("invalid.jws", SignWithoutEdgerelay(key, """{ "version": 5, "listeners": [{ "transport": "sctp", "endpoint": "0.0.0.0:3478" }] }"""));

        Result validate = Edgerelay("config", "validate", path);

        Assert.True(validate.Exit == 2, validate.ToString());
        Assert.Contains($"edgerelay config validate: {path}: listeners[0].transport: \"sctp\" is not valid", validate.Stderr);
    }

    [Theory]
    [InlineData("{ \"listeners\": [ }")]
    [InlineData("this is not json")]
    [InlineData("")]
    public void Validate_of_text_that_is_not_json_exits_2(string text)
    {
        string path = Write("broken.json", text);

        Result validate = Edgerelay("config", "validate", path);

        Assert.True(validate.Exit == 2, validate.ToString());
        Assert.Contains($"edgerelay config validate: {path}: not valid JSON", validate.Stderr);
    }

    [Fact]
    public void Validate_of_a_missing_file_says_it_cannot_read_it()
    {
        Result validate = Edgerelay("config", "validate", PathOf("edgerelay.json"));

        Assert.True(validate.Exit == 1, validate.ToString());
        Assert.Contains($"edgerelay config validate: cannot read {PathOf("edgerelay.json")}: no such file", validate.Stderr);
    }

    [Theory]
    [InlineData("""{ "version": 3, "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }], "auth": { "users": { "bob": "Hunter2" } } }""",
        "auth.users.bob: the password is not valid")]
    [InlineData("""{ "version": 3, "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }], "auth": { "sharedSecrets": ["Hunter2"] } }""",
        "auth.sharedSecrets[0]: the secret is not valid")]
    [InlineData("""{ "version": 3, "listeners": [{ "transport": "udp", "endpoint": "0.0.0.0:3478" }], "status": { "endpoint": "0.0.0.0:8080", "adminToken": "Hunter2" } }""",
        "status.adminToken: too short")]
    public void A_secret_is_never_echoed_in_an_error(string document, string expected)
    {
        // "Hunter2" is too short: refused, and the message names the key without repeating the value.
        string path = Write("venue-12.json", document);
        SigningKey key = Keygen();

        foreach (string[] command in new[]
        {
            new[] { "config", "validate", path },
            new[] { "config", "validate", "--cloud", path },
            new[] { "config", "sign", "--key", key.PrivateKeyPath, path },
        })
        {
            Result result = Edgerelay(command);

            Assert.True(result.Exit == 2, result.ToString());
            Assert.Contains(expected, result.Stderr);
            Assert.DoesNotContain("Hunter2", result.Stdout + result.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_device_token_or_a_password_in_the_cloud_url_is_never_echoed_in_an_error()
    {
        SigningKey key = Keygen();
        string token = Write("token.json", $$"""{ "cloud": { "url": "{{CloudUrl}}", "trustedKeys": ["{{key.PublicKey}}"], "deviceToken": "Sesame 12345" } }""");
        string userInfo = Write("userinfo.json", $$"""{ "cloud": { "url": "https://box:Sesame12345@config.example.com/x.jws", "trustedKeys": ["{{key.PublicKey}}"] } }""");

        Result tokenResult = Edgerelay("config", "validate", token);
        Result userInfoResult = Edgerelay("config", "validate", userInfo);

        Assert.True(tokenResult.Exit == 2, tokenResult.ToString());
        Assert.Contains("cloud.deviceToken: not valid", tokenResult.Stderr);
        Assert.True(userInfoResult.Exit == 2, userInfoResult.ToString());
        Assert.Contains("cloud.url: not valid: expected no user name or password in the URL", userInfoResult.Stderr);
        Assert.DoesNotContain("Sesame", tokenResult.Stdout + tokenResult.Stderr + userInfoResult.Stdout + userInfoResult.Stderr, StringComparison.Ordinal);
    }

    // ---- help and usage

    [Fact]
    public void Keygen_help_prints_its_usage_on_standard_output()
    {
        Result help = Edgerelay("keygen", "--help");

        Assert.True(help.Exit == 0, help.ToString());
        Assert.Contains("Usage: edgerelay keygen --out FILE", help.Stdout);
        Assert.Contains("an existing file is never overwritten", help.Stdout);
        Assert.Contains("cloud.trustedKeys", help.Stdout);
        Assert.Equal("", help.Stderr);
    }

    [Theory]
    [InlineData("config", "--help")]
    [InlineData("config", "-h")]
    [InlineData("config", "help")]
    [InlineData("config", "sign", "--help")]
    [InlineData("config", "verify", "--help")]
    [InlineData("config", "validate", "--help")]
    public void Config_help_prints_every_command_and_the_exit_codes_on_standard_output(params string[] args)
    {
        Result help = Edgerelay(args);

        Assert.True(help.Exit == 0, help.ToString());
        Assert.Contains("edgerelay config sign --key KEY.pem [--out FILE] DOCUMENT.json", help.Stdout);
        Assert.Contains("edgerelay config verify (--trusted-key KEY | --bootstrap FILE)... SIGNED", help.Stdout);
        Assert.Contains("edgerelay config validate [--cloud] FILE", help.Stdout);
        Assert.Contains("Exit codes: 0 good, 2 not a valid configuration, 3 signature refused, 64 usage, 1 other errors.", help.Stdout);
        Assert.Equal("", help.Stderr);
    }

    [Fact]
    public void The_main_help_names_keygen_and_config()
    {
        Result help = Edgerelay("--help");

        Assert.True(help.Exit == 0, help.ToString());
        Assert.Contains("edgerelay keygen --out FILE", help.Stdout);
        Assert.Contains("edgerelay config sign|verify|validate", help.Stdout);
    }

    [Fact]
    public void Config_without_a_command_prints_the_usage_as_a_usage_error()
    {
        Result config = Edgerelay("config");

        Assert.True(config.Exit == 64, config.ToString());
        Assert.Contains("edgerelay config sign --key KEY.pem", config.Stderr);
        Assert.Equal("", config.Stdout);
    }

    [Fact]
    public void Config_with_an_unknown_command_is_a_usage_error_naming_it()
    {
        Result config = Edgerelay("config", "publish", "venue-12.json");

        Assert.True(config.Exit == 64, config.ToString());
        Assert.Contains("edgerelay config: unknown command \"publish\" (expected sign, verify or validate)", config.Stderr);
        Assert.Contains("Usage:", config.Stderr);
        Assert.Equal("", config.Stdout);
    }

    [Theory]
    [InlineData("edgerelay keygen", "keygen", "--force")]
    [InlineData("edgerelay config", "config", "--force")]
    [InlineData("edgerelay config sign", "config", "sign", "--force")]
    [InlineData("edgerelay config verify", "config", "verify", "--force")]
    [InlineData("edgerelay config validate", "config", "validate", "--force")]
    public void An_unknown_option_is_a_usage_error_naming_it(string command, params string[] args)
    {
        Result result = Edgerelay(args);

        Assert.True(result.Exit == 64, result.ToString());
        Assert.Contains($"{command}: unknown option \"--force\"", result.Stderr);
        Assert.Contains("Usage:", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Theory]
    [InlineData("edgerelay config sign: --key KEY.pem is needed", "config", "sign", "venue-12.json")]
    [InlineData("edgerelay config sign: one DOCUMENT.json is needed", "config", "sign", "--key", "signing.pem")]
    [InlineData("edgerelay config sign: --out needs a value", "config", "sign", "--key", "signing.pem", "venue-12.json", "--out")]
    [InlineData("edgerelay config verify: --trusted-key KEY or --bootstrap FILE is needed", "config", "verify", "venue-12.jws")]
    [InlineData("edgerelay config verify: one SIGNED document is needed", "config", "verify", "--trusted-key", "KEY")]
    [InlineData("edgerelay config validate: one FILE is needed", "config", "validate", "a.json", "b.json")]
    public void A_missing_or_extra_argument_is_a_usage_error_saying_what_is_needed(string expected, params string[] args)
    {
        Result result = Edgerelay(args);

        Assert.True(result.Exit == 64, result.ToString());
        Assert.Contains(expected, result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [GeneratedRegex("""Key id:\s+(?<kid>[A-Za-z0-9_-]{16})\nPublic key, for cloud\.trustedKeys:\n(?<public>[A-Za-z0-9+/=]+)\n""")]
    private static partial Regex KeygenOutput();

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
