using System.Buffers.Text;
using System.Security.Cryptography;

namespace EdgeRelay.Appliance.Cloud;

/// <summary>
/// A public key that may sign configuration documents: ECDSA P-256, written as the base64 of its
/// SubjectPublicKeyInfo (the body of a "PUBLIC KEY" PEM block, on one line) or as the whole PEM block.
/// Its key id is the first 12 bytes of SHA-256 over the SubjectPublicKeyInfo, base64url: 16 characters,
/// which documents carry in their JWS header as "kid".
/// </summary>
public sealed class TrustedKey
{
    private readonly byte[] _subjectPublicKeyInfo;

    private TrustedKey(byte[] subjectPublicKeyInfo, ECParameters parameters)
    {
        _subjectPublicKeyInfo = subjectPublicKeyInfo;
        Parameters = parameters;
        KeyId = KeyIdOf(subjectPublicKeyInfo);
    }

    public string KeyId { get; }

    internal ECParameters Parameters { get; }

    /// <summary>The one-line form used in configuration files (<c>cloud.trustedKeys</c>).</summary>
    public override string ToString() => Convert.ToBase64String(_subjectPublicKeyInfo);

    public static string KeyIdOf(ReadOnlySpan<byte> subjectPublicKeyInfo) =>
        Base64Url.EncodeToString(SHA256.HashData(subjectPublicKeyInfo).AsSpan(0, 12));

    /// <summary>Reads a key; the message of the <see cref="FormatException"/> says what was expected.</summary>
    public static TrustedKey Parse(string text)
    {
        string trimmed = text.Trim();
        byte[] spki;
        if (trimmed.StartsWith("-----BEGIN", StringComparison.Ordinal))
        {
            if (!PemEncoding.TryFind(trimmed, out PemFields fields) || trimmed[fields.Label] is not "PUBLIC KEY")
            {
                throw new FormatException("expected a \"PUBLIC KEY\" PEM block (`edgerelay keygen` prints one)");
            }
            spki = Convert.FromBase64String(trimmed[fields.Base64Data]);
        }
        else
        {
            try
            {
                spki = Convert.FromBase64String(trimmed);
            }
            catch (FormatException)
            {
                throw new FormatException("expected the base64 of an ECDSA P-256 public key (`edgerelay keygen` prints one)");
            }
        }
        try
        {
            using var key = ECDsa.Create();
            key.ImportSubjectPublicKeyInfo(spki, out int read);
            ECParameters parameters = key.ExportParameters(includePrivateParameters: false);
            if (read != spki.Length || parameters.Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
            {
                throw new FormatException("expected an ECDSA key on the P-256 curve (ES256)");
            }
            return new TrustedKey(spki, parameters);
        }
        catch (CryptographicException)
        {
            throw new FormatException("expected the base64 of an ECDSA P-256 public key (`edgerelay keygen` prints one)");
        }
    }

    /// <summary>The public half of a signing key, as it goes into <c>cloud.trustedKeys</c>.</summary>
    public static TrustedKey FromSigningKey(ECDsa key) => Parse(Convert.ToBase64String(key.ExportSubjectPublicKeyInfo()));

    internal bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        using var key = ECDsa.Create(Parameters);
        // JWS ES256 (RFC 7518 §3.4): the signature is R || S, 32 bytes each: .NET's IEEE P1363 format.
        return key.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }
}
