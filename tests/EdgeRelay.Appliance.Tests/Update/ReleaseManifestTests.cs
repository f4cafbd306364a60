using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Update;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>The signed release manifest: its signature, every field's rules, hostile payloads, and where the binary is.</summary>
public sealed class ReleaseManifestTests : IDisposable
{
    private const string Sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private static readonly Uri ManifestUrl = new("https://releases.example.com/edgerelay/1.4.2/linux-arm64.jws");

    private readonly ReleaseSigner _signer = new();
    private readonly ReleaseSigner _other = new();

    public void Dispose()
    {
        _signer.Dispose();
        _other.Dispose();
    }

    private static ReleaseManifest Good => new("1.4.2", "linux-arm64", 15_160_000, Sha, "edgerelay-1.4.2-linux-arm64");

    /// <summary>The JSON of <see cref="Good"/>, with fields replaced (a raw JSON value) or removed (null).</summary>
    private static string Json(params (string Key, string? Raw)[] changes)
    {
        var fields = new List<KeyValuePair<string, string>>
        {
            new("name", "\"edgerelay\""), new("version", "\"1.4.2\""), new("rid", "\"linux-arm64\""),
            new("size", "15160000"), new("sha256", $"\"{Sha}\""), new("binary", "\"edgerelay-1.4.2-linux-arm64\""),
        };
        foreach ((string key, string? raw) in changes)
        {
            int at = fields.FindIndex(f => f.Key == key);
            if (at >= 0)
            {
                fields.RemoveAt(at);
            }
            if (raw is not null)
            {
                fields.Insert(at >= 0 ? at : fields.Count, new(key, raw));
            }
        }
        return "{" + string.Join(",", fields.Select(f => $"\"{f.Key}\":{f.Value}")) + "}";
    }

    private static ReleaseManifest? Parse(string json, out string? problem) => ReleaseManifest.TryParse(Encoding.UTF8.GetBytes(json), out problem);

    // --- the signature ---------------------------------------------------------------------------------

    [Fact]
    public void A_signed_manifest_verifies_with_the_release_key_and_reads_back_field_for_field()
    {
        string signed = _signer.Sign(Good);

        ReleaseManifest? manifest = ReleaseManifest.Verify(signed, [_other.Trusted, _signer.Trusted], out string? problem, out string? keyId);

        Assert.Null(problem);
        Assert.Equal(Good, manifest);
        Assert.Equal(_signer.Trusted.KeyId, keyId);
        Assert.Equal(ReleaseVersion.Parse("1.4.2"), manifest!.ParsedVersion);
    }

    [Fact]
    public void The_payload_is_the_documented_JSON_and_nothing_else()
    {
        using JsonDocument json = JsonDocument.Parse(Good.ToJson());
        Assert.Equal(["name", "version", "rid", "size", "sha256", "binary"], json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("edgerelay", json.RootElement.GetProperty("name").GetString());
        Assert.Equal(15_160_000, json.RootElement.GetProperty("size").GetInt64());
        Assert.Equal(Encoding.UTF8.GetString(Good.ToJson()), Good.ToJsonText());
        Assert.True(SignedDocument.TryReadPayloadUnverified(_signer.Sign(Good), out byte[] payload));
        Assert.Equal(Good.ToJson(), payload);
    }

    [Fact]
    public void A_manifest_signed_by_a_key_that_is_not_a_release_key_is_refused_naming_the_key()
    {
        string signed = _other.Sign(Good);

        Assert.Null(ReleaseManifest.Verify(signed, [_signer.Trusted], out string? problem, out string? keyId));

        Assert.Equal(_other.Trusted.KeyId, keyId);
        Assert.Contains($"\"{_other.Trusted.KeyId}\"", problem, StringComparison.Ordinal);
        Assert.Contains("not a release key of this box", problem, StringComparison.Ordinal);
        Assert.Null(ReleaseManifest.Verify(signed, [], out problem, out _));
        Assert.NotNull(problem);
    }

    [Fact]
    public void A_manifest_changed_after_signing_is_refused_as_a_bad_signature()
    {
        string signed = _signer.Sign(Good);
        // Another size and hash under the old signature: the attack the signature is there for.
        string tampered = ReleaseSigner.WithPayload(signed, Json(("size", "16000000"), ("sha256", $"\"{new string('f', 64)}\"")));

        Assert.Null(ReleaseManifest.Verify(tampered, [_signer.Trusted], out string? problem, out _));
        Assert.Contains("bad signature", problem, StringComparison.Ordinal);
        Assert.StartsWith("the release manifest", problem, StringComparison.Ordinal);

        // One bit of the signature.
        string[] parts = signed.Split('.');
        byte[] signature = Base64Url.DecodeFromChars(parts[2]);
        signature[17] ^= 0x01;
        Assert.Null(ReleaseManifest.Verify($"{parts[0]}.{parts[1]}.{Base64Url.EncodeToString(signature)}", [_signer.Trusted], out problem, out _));
        Assert.Contains("bad signature", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not a manifest")]
    [InlineData("{\"name\":\"edgerelay\"}")]
    [InlineData("a.b")]
    [InlineData("a.b.c.d")]
    [InlineData("...")]
    public void Something_that_is_not_a_signed_document_is_refused_as_such(string document)
    {
        Assert.Null(ReleaseManifest.Verify(document, [_signer.Trusted], out string? problem, out _));
        Assert.Contains("not a signed document", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_manifest_signed_with_alg_none_is_refused()
    {
        string header = Base64Url.EncodeToString(Encoding.UTF8.GetBytes($"{{\"alg\":\"none\",\"kid\":\"{_signer.Trusted.KeyId}\"}}"));
        string document = $"{header}.{Base64Url.EncodeToString(Good.ToJson())}.";

        Assert.Null(ReleaseManifest.Verify(document, [_signer.Trusted], out string? problem, out _));
        Assert.NotNull(problem);
    }

    [Fact]
    public void A_well_signed_payload_that_is_not_a_manifest_is_refused_for_what_it_is()
    {
        string signed = _signer.SignPayload(Json(("size", "0")));

        Assert.Null(ReleaseManifest.Verify(signed, [_signer.Trusted], out string? problem, out string? keyId));
        Assert.Contains("size", problem, StringComparison.Ordinal);
        Assert.Equal(_signer.Trusted.KeyId, keyId);
    }

    // --- every field -----------------------------------------------------------------------------------

    public static TheoryData<string, string?, string> BadFields() => new()
    {
        { "name", "\"EdgeRelay\"", "names \"EdgeRelay\", not edgerelay" },
        { "name", "\"edgerelay \"", "not edgerelay" },
        { "name", "\"coturn\"", "names \"coturn\", not edgerelay" },
        { "name", "42", "not edgerelay" },
        { "name", "null", "not edgerelay" },
        { "name", null, "not edgerelay" },
        { "version", "\"1.4.2-rc1\"", "version \"1.4.2-rc1\" is not numbers joined by dots" },
        { "version", "\"1\"", "version \"1\" is not numbers joined by dots" },
        { "version", "\" 1.4.2\"", "is not numbers joined by dots" },
        { "version", "\"-1.4\"", "is not numbers joined by dots" },
        { "version", "\"\u0661.\u0664\"", "is not numbers joined by dots" },
        { "version", "1.4", "is not numbers joined by dots" },
        { "version", null, "is not numbers joined by dots" },
        { "rid", "\"\"", "has no rid" },
        { "rid", $"\"{new string('x', 65)}\"", "has no rid" },
        { "rid", "[\"linux-arm64\"]", "has no rid" },
        { "rid", null, "has no rid" },
        { "size", "0", "size is not between 1 and 50331648 bytes" },
        { "size", "-1", "size is not between 1 and" },
        { "size", "-15160000", "size is not between 1 and" },
        { "size", (ReleaseManifest.MaxSize + 1).ToString(CultureInfo.InvariantCulture), "size is not between 1 and" },
        { "size", "9223372036854775807", "size is not between 1 and" },
        { "size", "9223372036854775808", "size is not between 1 and" },
        { "size", "1e400", "size is not between 1 and" },
        { "size", "1.5", "size is not between 1 and" },
        { "size", "\"15160000\"", "size is not between 1 and" },
        { "size", "null", "size is not between 1 and" },
        { "size", null, "size is not between 1 and" },
        { "sha256", $"\"{Sha.ToUpperInvariant()}\"", "sha256 is not 64 lower-case hex digits" },
        { "sha256", $"\"{Sha[..63]}\"", "sha256 is not 64 lower-case hex digits" },
        { "sha256", $"\"{Sha}0\"", "sha256 is not 64 lower-case hex digits" },
        { "sha256", $"\"{Sha[..63]}g\"", "sha256 is not 64 lower-case hex digits" },
        { "sha256", $"\"{Sha[..63]} \"", "sha256 is not 64 lower-case hex digits" },
        { "sha256", $"\"{Sha[..62]}\\u0661\\u0662\"", "sha256 is not 64 lower-case hex digits" },
        { "sha256", "\"\"", "sha256 is not 64 lower-case hex digits" },
        { "sha256", null, "sha256 is not 64 lower-case hex digits" },
        { "binary", "\"\"", "has no binary URL" },
        { "binary", $"\"{new string('b', 2049)}\"", "has no binary URL" },
        { "binary", "{}", "has no binary URL" },
        { "binary", null, "has no binary URL" },
        { "extra", "1", "unknown key \"extra\"" },
        { "Name", "\"edgerelay\"", "unknown key \"Name\"" },
        { "signature", "\"x\"", "unknown key \"signature\"" },
        { "floor", "\"1.5\"", "floor \"1.5\" is not a version at most its own 1.4.2" },
        { "floor", "\"1.4.3\"", "floor \"1.4.3\" is not a version at most its own 1.4.2" },
        { "floor", "\"latest\"", "floor \"latest\" is not a version" },
        { "floor", "1.4", "floor \"\" is not a version" },
        { "floor", "null", "floor \"\" is not a version" },
    };

    [Theory]
    [InlineData("1.4.2")]
    [InlineData("1.3")]
    [InlineData("0.1.0")]
    public void A_floor_at_most_the_release_version_is_signed_and_read_back(string floor)
    {
        ReleaseManifest withFloor = Good with { Floor = floor };

        ReleaseManifest? manifest = ReleaseManifest.Verify(_signer.Sign(withFloor), [_signer.Trusted], out string? problem, out _);

        Assert.Null(problem);
        Assert.Equal(withFloor, manifest);
        using JsonDocument json = JsonDocument.Parse(withFloor.ToJson());
        Assert.Equal(floor, json.RootElement.GetProperty("floor").GetString());
    }

    [Theory]
    [MemberData(nameof(BadFields))]
    public void Each_field_is_checked_and_the_problem_names_it(string key, string? raw, string expected)
    {
        Assert.Null(Parse(Json((key, raw)), out string? problem));
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void The_limits_themselves_are_allowed()
    {
        string json = Json(("size", ReleaseManifest.MaxSize.ToString(CultureInfo.InvariantCulture)), ("rid", $"\"{new string('r', 64)}\""),
            ("binary", $"\"{new string('b', 2048)}\""), ("version", "\"999999999.0.0.1\""));
        ReleaseManifest? manifest = Parse(json, out string? problem);
        Assert.Null(problem);
        Assert.Equal(ReleaseManifest.MaxSize, manifest!.Size);

        Assert.Equal(1, Parse(Json(("size", "1")), out problem)!.Size);
        Assert.Null(problem);
        Assert.Equal(48L * 1024 * 1024, ReleaseManifest.MaxSize);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("\"edgerelay\"")]
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("true")]
    public void A_payload_that_is_not_an_object_is_not_a_manifest(string json)
    {
        Assert.Null(Parse(json, out string? problem));
        Assert.Equal("the release manifest is not a JSON object", problem);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("{\"name\":\"edgerelay\",}")]
    [InlineData("{'name':'edgerelay'}")]
    [InlineData("\uFEFF{}")]
    [InlineData("{\"name\":\"edgerelay\" /* comment */}")]
    public void A_payload_that_is_not_JSON_is_not_a_manifest(string json)
    {
        Assert.Null(Parse(json, out string? problem));
        Assert.Equal("the release manifest is not valid JSON", problem);
    }

    // Strict like "an unknown key is an error": a reviewer's tool that reads the first "sha256", or refuses
    // trailing text, must not disagree with the box about what was signed. (At 2b0290d TryParse used
    // JsonDocument.ParseValue, which ignores what follows the value, and took the last of a key given twice.)
    [Theory]
    [InlineData(" garbage")]
    [InlineData(" {}")]
    [InlineData("}")]
    [InlineData(" [1]")]
    public void Text_after_the_manifest_object_makes_it_no_manifest(string trailing)
    {
        ReleaseManifest? manifest = Parse(Json() + trailing, out string? problem);
        Assert.True(manifest is null, $"accepted with {trailing.Trim()} after the object: {manifest}");
        Assert.NotNull(problem);
    }

    [Theory]
    [InlineData("sha256", "\"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"")]
    [InlineData("size", "1")]
    [InlineData("version", "\"1.4.2\"")]
    public void A_key_given_twice_makes_it_no_manifest(string key, string raw)
    {
        ReleaseManifest? manifest = Parse(Json()[..^1] + $",\"{key}\":{raw}}}", out string? problem);
        Assert.True(manifest is null, $"accepted with \"{key}\" twice: {manifest}");
        Assert.Equal($"the release manifest has the key \"{key}\" twice", problem);
    }

    // --- hostile payloads never throw ------------------------------------------------------------------

    /// <summary>What TryParse may answer: a manifest that keeps every rule, or null and a problem. It may not throw.</summary>
    private static void AssertWellBehaved(ReadOnlySpan<byte> payload)
    {
        ReleaseManifest? manifest = ReleaseManifest.TryParse(payload, out string? problem);
        if (manifest is null)
        {
            Assert.False(string.IsNullOrEmpty(problem));
            return;
        }
        Assert.Null(problem);
        Assert.True(ReleaseVersion.TryParse(manifest.Version, out _));
        Assert.InRange(manifest.Size, 1, ReleaseManifest.MaxSize);
        Assert.Equal(64, manifest.Sha256.Length);
        Assert.All(manifest.Sha256, c => Assert.True(char.IsAsciiHexDigitLower(c)));
        Assert.InRange(manifest.Rid.Length, 1, 64);
        Assert.InRange(manifest.Binary.Length, 1, 2048);
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var random = new Random(20261203);
        for (int i = 0; i < 5000; i++)
        {
            byte[] bytes = new byte[random.Next(0, 300)];
            random.NextBytes(bytes);
            AssertWellBehaved(bytes);
        }
    }

    [Fact]
    public void A_good_manifest_with_random_bytes_changed_never_throws()
    {
        byte[] good = Encoding.UTF8.GetBytes(Json());
        var random = new Random(7);
        for (int i = 0; i < 5000; i++)
        {
            byte[] bytes = (byte[])good.Clone();
            for (int flips = random.Next(1, 4); flips > 0; flips--)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }
            AssertWellBehaved(bytes[..random.Next(bytes.Length + 1)]);
            AssertWellBehaved(bytes);
        }
    }

    public static TheoryData<string> DeepNesting() => [.. DeepNestingTexts()];

    private static string[] DeepNestingTexts() =>
    [
        new string('[', 100_000),
        new string('[', 10_000) + new string(']', 10_000),
        string.Concat(Enumerable.Repeat("{\"a\":", 10_000)) + "1" + new string('}', 10_000),
        Json(("binary", new string('[', 1000) + new string(']', 1000))),
        Json(("size", "{\"a\":{\"b\":{\"c\":{\"d\":1}}}}")),
        Json(("extra", "[[[[[[[[[[]]]]]]]]]]")),
    ];

    [Theory]
    [MemberData(nameof(DeepNesting))]
    public void Deep_nesting_is_refused_without_throwing(string json)
    {
        Assert.Null(Parse(json, out string? problem));
        Assert.NotNull(problem);
    }

    public static TheoryData<byte[]> NotUtf8() => [.. NotUtf8Payloads()];

    private static byte[][] NotUtf8Payloads()
    {
        byte[] Replace(string marker, byte[] with)
        {
            byte[] json = Encoding.UTF8.GetBytes(Json(("rid", "\"MARK\""), ("extra", null)));
            int at = json.AsSpan().IndexOf(Encoding.UTF8.GetBytes(marker));
            return [.. json[..at], .. with, .. json[(at + marker.Length)..]];
        }
        return
        [
            Replace("MARK", [0xFF, 0xFE]),
            Replace("MARK", [0xC3, 0x28]),
            Replace("MARK", [0xC0, 0xAF]), // an overlong '/'
            Replace("MARK", [0xED, 0xA0, 0x80]), // an encoded surrogate
            Replace("MARK", [0xF4, 0x90, 0x80, 0x80]), // above U+10FFFF
            Replace("MARK", [0xE2, 0x82]), // cut short
            Replace("\"rid\"", [(byte)'"', 0xFF, (byte)'"']), // in a key
            Encoding.UTF8.GetBytes(Json(("version", "\"\\ud800\""))), // a lone surrogate, escaped
            Encoding.UTF8.GetBytes(Json(("rid", "\"\\udfff-arm64\""))),
            Encoding.UTF8.GetBytes(Json(("sha256", "\"\\ud83d\""))),
            Encoding.UTF8.GetBytes("{\"\\ud800\":1}"),
            [.. Encoding.Unicode.GetBytes(Json())], // UTF-16
        ];
    }

    [Theory]
    [MemberData(nameof(NotUtf8))]
    public void Text_that_is_not_UTF_8_is_refused_without_throwing(byte[] payload)
    {
        AssertWellBehaved(payload);
        Assert.Null(ReleaseManifest.TryParse(payload, out _));
    }

    [Fact]
    public void Hostile_payloads_under_a_good_signature_are_refused_through_Verify_too()
    {
        var random = new Random(11);
        foreach (byte[] payload in NotUtf8Payloads()
            .Concat(DeepNestingTexts().Select(Encoding.UTF8.GetBytes))
            .Concat(Enumerable.Range(0, 200).Select(_ => { byte[] b = new byte[random.Next(0, 100)]; random.NextBytes(b); return b; })))
        {
            string signed = SignedDocument.Sign(payload, _signer.Key);
            ReleaseManifest? manifest = ReleaseManifest.Verify(signed, [_signer.Trusted], out string? problem, out _);
            Assert.True(manifest is null == problem is not null);
        }
    }

    // --- where the binary is ---------------------------------------------------------------------------

    [Theory]
    [InlineData("edgerelay-1.4.2-linux-arm64", "https://releases.example.com/edgerelay/1.4.2/edgerelay-1.4.2-linux-arm64")]
    [InlineData("bin/edgerelay", "https://releases.example.com/edgerelay/1.4.2/bin/edgerelay")]
    [InlineData("../edgerelay", "https://releases.example.com/edgerelay/edgerelay")]
    [InlineData("/top/edgerelay", "https://releases.example.com/top/edgerelay")]
    [InlineData("edgerelay?token=abc", "https://releases.example.com/edgerelay/1.4.2/edgerelay?token=abc")]
    [InlineData("https://cdn.example.net/r/edgerelay", "https://cdn.example.net/r/edgerelay")]
    [InlineData("HTTPS://CDN.example.net/r/edgerelay", "https://cdn.example.net/r/edgerelay")]
    [InlineData("https://cdn.example.net:8443/r/edgerelay", "https://cdn.example.net:8443/r/edgerelay")]
    [InlineData("//cdn.example.net/r/edgerelay", "https://cdn.example.net/r/edgerelay")]
    public void The_binary_is_a_path_next_to_the_manifest_or_an_absolute_https_URL(string binary, string expected)
    {
        ReleaseManifest manifest = Good with { Binary = binary };

        Uri? url = manifest.BinaryUrl(ManifestUrl, out string? problem);

        Assert.Null(problem);
        Assert.Equal(new Uri(expected), url);
    }

    [Theory]
    [InlineData("http://cdn.example.net/r/edgerelay")]
    [InlineData("https://user:secret@cdn.example.net/r/edgerelay")]
    [InlineData("https://user@cdn.example.net/r/edgerelay")]
    [InlineData("https://:secret@cdn.example.net/r/edgerelay")]
    [InlineData("//user:secret@cdn.example.net/r/edgerelay")]
    [InlineData("ftp://cdn.example.net/r/edgerelay")]
    [InlineData("file:///usr/bin/edgerelay")]
    [InlineData("data:application/octet-stream;base64,AAAA")]
    [InlineData("javascript:alert(1)")]
    [InlineData("ws://cdn.example.net/r/edgerelay")]
    public void A_binary_URL_that_is_not_plain_https_is_refused(string binary)
    {
        ReleaseManifest manifest = Good with { Binary = binary };

        Assert.Null(manifest.BinaryUrl(ManifestUrl, out string? problem));

        Assert.Contains($"\"{binary}\" is not an https:// URL", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_relative_binary_is_refused_when_the_manifest_itself_came_over_http()
    {
        Assert.Null(Good.BinaryUrl(new Uri("http://releases.example.com/edgerelay/1.4.2/linux-arm64.jws"), out string? problem));
        Assert.NotNull(problem);
        // ... or from a URL with credentials in it, which a relative path would inherit.
        Assert.Null(Good.BinaryUrl(new Uri("https://u:p@releases.example.com/edgerelay/linux-arm64.jws"), out problem));
        Assert.NotNull(problem);
    }

    // --- made from a binary ----------------------------------------------------------------------------

    [Fact]
    public void The_manifest_of_a_binary_file_carries_its_size_and_SHA_256()
    {
        string path = Path.Combine(Path.GetTempPath(), $"edgerelay-manifest-{Guid.NewGuid():N}");
        byte[] binary = ReleaseSigner.Binary(100_003, 1);
        File.WriteAllBytes(path, binary);
        try
        {
            ReleaseManifest manifest = ReleaseManifest.ForBinary(path, "1.5.0", "linux-x64");

            Assert.Equal(new ReleaseManifest("1.5.0", "linux-x64", binary.Length, Convert.ToHexStringLower(SHA256.HashData(binary)), "edgerelay-1.5.0-linux-x64"), manifest);
            Assert.Equal("https://cdn.example.net/x", ReleaseManifest.ForBinary(path, "1.5.0", "linux-x64", "https://cdn.example.net/x").Binary);
            Assert.Equal(manifest, ReleaseManifest.TryParse(manifest.ToJson(), out string? problem));
            Assert.Null(problem);
            Assert.Contains("edgerelay 1.5.0 (linux-x64, 100003 bytes, sha256 " + manifest.Sha256[..12], manifest.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
