using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeRelay.Appliance.Cloud;

namespace EdgeRelay.Appliance.Update;

/// <summary>
/// What a release is: its version, the runtime it is built for (a .NET RID), and the binary's size and
/// SHA-256, with where to get the binary (a URL relative to the manifest's own, or absolute https).
/// It travels as the payload of a JWS signed like configuration documents (<see cref="SignedDocument"/>:
/// ES256, the key id in the header), so the one check of the signature vouches for every byte of the binary.
/// <code>{"name":"edgerelay","version":"1.4.2","rid":"linux-arm64","size":15160000,"sha256":"…64 hex…","binary":"edgerelay-1.4.2-linux-arm64"}</code>
/// </summary>
/// <param name="Floor">
/// Optional: the oldest version a box may go back to once it has committed this release, <c>update.allowDowngrade</c>
/// or not (a security fix: the versions before it must not run again). It is the release key's word, not the
/// configuration's, so a leaked configuration key cannot take a fleet back below it. At most <paramref name="Version"/>.
/// </param>
public sealed record ReleaseManifest(string Version, string Rid, long Size, string Sha256, string Binary, string? Floor = null)
{
    public const string Name = "edgerelay";

    /// <summary>Larger than any binary this project can make (15 MB today); two slots of it and a download fit the image's 128 MiB state partition.</summary>
    public const long MaxSize = 48L * 1024 * 1024;

    /// <summary>A signed manifest is a few hundred bytes; anything much larger is not one.</summary>
    public const int MaxDocumentBytes = 16 * 1024;

    public ReleaseVersion ParsedVersion => ReleaseVersion.Parse(Version);

    /// <summary>The manifest of <paramref name="binaryPath"/>; the binary's URL is its file name next to the manifest unless given.</summary>
    public static ReleaseManifest ForBinary(string binaryPath, string version, string rid, string? binaryUrl = null)
    {
        using FileStream stream = File.OpenRead(binaryPath);
        string sha256 = Convert.ToHexStringLower(SHA256.HashData(stream));
        return new ReleaseManifest(version, rid, stream.Length, sha256, binaryUrl ?? $"{Name}-{version}-{rid}");
    }

    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            writer.WriteStartObject();
            writer.WriteString("name", Name);
            writer.WriteString("version", Version);
            writer.WriteString("rid", Rid);
            writer.WriteNumber("size", Size);
            writer.WriteString("sha256", Sha256);
            writer.WriteString("binary", Binary);
            if (Floor is not null)
            {
                writer.WriteString("floor", Floor);
            }
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    public string Sign(ECDsa key) => SignedDocument.Sign(ToJson(), key);

    /// <summary>
    /// Checks a signed manifest and reads it. Null and <paramref name="problem"/> when the signature is not
    /// by one of <paramref name="trustedKeys"/> or the payload is not a manifest. Never throws on its input.
    /// </summary>
    public static ReleaseManifest? Verify(string document, IReadOnlyList<TrustedKey> trustedKeys, out string? problem, out string? keyId)
    {
        SignatureCheck check = SignedDocument.Verify(document, trustedKeys, out byte[] payload, out keyId);
        if (check != SignatureCheck.None)
        {
            problem = check == SignatureCheck.UnknownKey
                ? $"the release manifest is signed by key \"{keyId}\", which is not a release key of this box (cloud.releaseKeys, or cloud.trustedKeys)"
                : "the release manifest: " + SignedDocument.Describe(check, keyId);
            return null;
        }
        return TryParse(payload, out problem);
    }

    /// <summary>Reads the payload of a manifest whose signature was checked; null and <paramref name="problem"/> when it is not one.</summary>
    public static ReleaseManifest? TryParse(ReadOnlySpan<byte> payload, out string? problem)
    {
        problem = null;
        try
        {
            // One JSON value and nothing after it (JsonDocument.Parse refuses trailing text).
            using JsonDocument json = JsonDocument.Parse(payload.ToArray(), new JsonDocumentOptions { MaxDepth = 4 });
            JsonElement root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                problem = "the release manifest is not a JSON object";
                return null;
            }
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in root.EnumerateObject())
            {
                if (property.Name is not ("name" or "version" or "rid" or "size" or "sha256" or "binary" or "floor"))
                {
                    problem = $"the release manifest has an unknown key \"{property.Name}\"";
                    return null;
                }
                if (!seen.Add(property.Name))
                {
                    // Two readers could take different ones of the two: a signed document means one thing only.
                    problem = $"the release manifest has the key \"{property.Name}\" twice";
                    return null;
                }
            }
            string? name = StringOf(root, "name");
            string? version = StringOf(root, "version");
            string? rid = StringOf(root, "rid");
            string? sha256 = StringOf(root, "sha256");
            string? binary = StringOf(root, "binary");
            string? floor = StringOf(root, "floor");
            long size = root.TryGetProperty("size", out JsonElement sizeElement) && sizeElement.ValueKind == JsonValueKind.Number
                && sizeElement.TryGetInt64(out long value) ? value : -1;
            problem = name != Name ? $"the release manifest names \"{name}\", not {Name}"
                : !ReleaseVersion.TryParse(version, out _) ? $"the release manifest's version \"{version}\" is not numbers joined by dots"
                : rid is null || rid.Length is 0 or > 64 ? "the release manifest has no rid (e.g. \"linux-arm64\")"
                : size is <= 0 or > MaxSize ? $"the release manifest's size is not between 1 and {MaxSize} bytes"
                : sha256 is null || sha256.Length != 64 || !sha256.All(char.IsAsciiHexDigitLower) ? "the release manifest's sha256 is not 64 lower-case hex digits"
                : binary is null || binary.Length is 0 or > 2048 ? "the release manifest has no binary URL"
                : root.TryGetProperty("floor", out _) && (!ReleaseVersion.TryParse(floor, out ReleaseVersion parsedFloor) || parsedFloor > ReleaseVersion.Parse(version!))
                    ? $"the release manifest's floor \"{floor}\" is not a version at most its own {version}"
                : null;
            return problem is null ? new ReleaseManifest(version!, rid!, size, sha256!, binary!, floor) : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            problem = "the release manifest is not valid JSON";
            return null;
        }
    }

    /// <summary>Where the binary is: relative to the manifest's URL, and only over https.</summary>
    public Uri? BinaryUrl(Uri manifestUrl, out string? problem)
    {
        problem = null;
        if (!Uri.TryCreate(manifestUrl, Binary, out Uri? url) || url.Scheme != Uri.UriSchemeHttps || !string.IsNullOrEmpty(url.UserInfo))
        {
            problem = $"the release manifest's binary \"{Binary}\" is not an https:// URL (or a path next to the manifest)";
            return null;
        }
        return url;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} {Version} ({Rid}, {Size} bytes, sha256 {Sha256[..12]}…)");

    private static string? StringOf(JsonElement root, string key) =>
        root.TryGetProperty(key, out JsonElement element) && element.ValueKind == JsonValueKind.String ? element.GetString() : null;

    /// <summary>The payload as UTF-8 text, for the slot's record.</summary>
    public string ToJsonText() => Encoding.UTF8.GetString(ToJson());
}
