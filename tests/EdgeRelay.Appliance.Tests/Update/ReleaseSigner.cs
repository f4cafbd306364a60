using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using EdgeRelay.Appliance.Cloud;
using EdgeRelay.Appliance.Update;

namespace EdgeRelay.Appliance.Tests.Update;

/// <summary>A release key, and releases made with it: "binaries" of any bytes, their manifests, signed.</summary>
internal sealed class ReleaseSigner : IDisposable
{
    public const string Rid = "linux-arm64";

    public ECDsa Key { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public TrustedKey Trusted => TrustedKey.FromSigningKey(Key);

    public void Dispose() => Key.Dispose();

    /// <summary>Bytes that stand for a binary: the same for the same seed, and unlike any other seed's.</summary>
    public static byte[] Binary(int size, int seed)
    {
        byte[] bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static string Sha256Of(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>The manifest of <paramref name="binary"/>: its size and hash, and its file name next to the manifest.</summary>
    public static ReleaseManifest ManifestOf(byte[] binary, string version, string rid = Rid, string? binaryUrl = null) =>
        new(version, rid, binary.Length, Sha256Of(binary), binaryUrl ?? $"edgerelay-{version}-{rid}");

    public string Sign(ReleaseManifest manifest) => manifest.Sign(Key);

    /// <summary>Any payload, signed as a manifest would be.</summary>
    public string SignPayload(string json) => SignedDocument.Sign(Encoding.UTF8.GetBytes(json), Key);

    /// <summary>The signed document with its payload replaced and the signature kept: a tampered manifest.</summary>
    public static string WithPayload(string signed, string json)
    {
        string[] parts = signed.Split('.');
        return $"{parts[0]}.{Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json))}.{parts[2]}";
    }
}
