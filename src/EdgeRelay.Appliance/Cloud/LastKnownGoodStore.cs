using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeRelay.Appliance.Cloud;

/// <summary>A cloud document that was verified and applied, as the store keeps it.</summary>
/// <param name="Document">The signed document exactly as it was served (its signature is checked again at load).</param>
/// <param name="VerifiedWith">The trusted keys in force when it was accepted, one of which signed it.</param>
/// <param name="ETag">The ETag it came with, so that the first poll after a restart can cost a 304.</param>
public sealed record StoredDocument(string Document, long Version, IReadOnlyList<string> VerifiedWith, string? ETag, DateTimeOffset AcceptedAt);

/// <summary>What <see cref="LastKnownGoodStore.Load"/> found.</summary>
/// <param name="SignedBy">The key id of the stored document's signature.</param>
public sealed record StoreLoadResult(StoredDocument? Document, byte[] Payload, string? Problem, string? SignedBy = null)
{
    public bool IsEmpty => Document is null && Problem is null;
}

/// <summary>
/// The last known good cloud configuration, in <c>stateDirectory</c>: one file, replaced atomically
/// (<see cref="AtomicFile"/>), so that a power cut during a write leaves the previous document or the
/// new one. At load the document's signature is checked again with the keys that verified it: that
/// finds a damaged file (the state directory is trusted as much as the binary; the signature check is
/// for corruption, not for someone who can write there).
/// </summary>
public sealed class LastKnownGoodStore(string stateDirectory)
{
    public const string FileName = "cloud-configuration.json";

    public string Path { get; } = System.IO.Path.Combine(stateDirectory, FileName);

    public void Save(StoredDocument document)
    {
        if (!OperatingSystem.IsWindows())
        {
            // Only the service's user reads the state: it holds the configuration, with its secrets.
            Directory.CreateDirectory(stateDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var record = new StoreRecord(1, document.Version, document.ETag, document.AcceptedAt, document.VerifiedWith, document.Document);
        AtomicFile.Write(Path, JsonSerializer.SerializeToUtf8Bytes(record, StoreJsonContext.Default.StoreRecord));
    }

    /// <summary>Never throws: an unreadable or damaged store is a <see cref="StoreLoadResult.Problem"/>.</summary>
    public StoreLoadResult Load()
    {
        byte[] bytes;
        try
        {
            if (Directory.Exists(stateDirectory))
            {
                // A writer killed before its rename leaves a temporary file, even before the first save.
                AtomicFile.RemoveLeftovers(Path);
            }
            if (!File.Exists(Path))
            {
                return new StoreLoadResult(null, [], null);
            }
            bytes = File.ReadAllBytes(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Problem($"cannot read {Path}: {e.Message}");
        }

        StoreRecord? record;
        try
        {
            record = JsonSerializer.Deserialize(bytes, StoreJsonContext.Default.StoreRecord);
        }
        catch (JsonException e)
        {
            return Problem($"{Path} is damaged: {e.Message}");
        }
        if (record is null || record.Document is null || record.VerifiedWith is null || record.VerifiedWith.Any(k => k is null))
        {
            return Problem($"{Path} is damaged: fields are missing");
        }
        if (record.Format != 1)
        {
            return Problem($"{Path} has format {record.Format}, which this version does not know (it knows 1)");
        }
        var keys = new List<TrustedKey>();
        foreach (string key in record.VerifiedWith)
        {
            try
            {
                keys.Add(TrustedKey.Parse(key));
            }
            catch (FormatException e)
            {
                return Problem($"{Path} is damaged: a key is not valid: {e.Message}");
            }
        }
        SignatureCheck check = SignedDocument.Verify(record.Document, keys, out byte[] payload, out string? keyId);
        if (check != SignatureCheck.None)
        {
            return Problem($"{Path} is damaged: {SignedDocument.Describe(check, keyId)}");
        }
        return new StoreLoadResult(
            new StoredDocument(record.Document, record.Version, record.VerifiedWith, record.ETag, record.AcceptedAt), payload, null, keyId);
    }

    private static StoreLoadResult Problem(string text) => new(null, [], text);
}

internal sealed record StoreRecord(int Format, long Version, string? ETag, DateTimeOffset AcceptedAt, IReadOnlyList<string>? VerifiedWith, string? Document);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(StoreRecord))]
internal sealed partial class StoreJsonContext : JsonSerializerContext;
