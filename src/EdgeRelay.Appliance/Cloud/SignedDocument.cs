using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace EdgeRelay.Appliance.Cloud;

/// <summary>Why a signed document was not accepted; <see cref="None"/> when it was.</summary>
public enum SignatureCheck
{
    None,

    /// <summary>Not three base64url parts, or a header that is not the JSON object expected.</summary>
    Malformed,

    /// <summary>An "alg" other than ES256 (never "none"), or a "crit" header this reader does not know.</summary>
    UnsupportedAlgorithm,

    /// <summary>A "kid" that names none of the trusted keys.</summary>
    UnknownKey,

    /// <summary>The signature does not match the trusted key the header names.</summary>
    BadSignature,
}

/// <summary>
/// The configuration document as the cloud serves it: a JWS in compact serialization (RFC 7515 §7.1),
/// signed with ES256 (ECDSA P-256 and SHA-256, RFC 7518 §3.4):
/// <c>BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(R || S)</c>, where the header is
/// <c>{"alg":"ES256","kid":KEY-ID}</c> and the payload is the configuration JSON, unchanged. Any JWS
/// library can make or check one; <c>edgerelay config sign</c> does. Checking never throws on what it is given.
/// </summary>
public static class SignedDocument
{
    public const string Algorithm = "ES256";
    private const int SignatureLength = 64;

    public static string Sign(ReadOnlySpan<byte> payload, ECDsa key)
    {
        string keyId = TrustedKey.FromSigningKey(key).KeyId;
        string header = Base64Url.EncodeToString(Encoding.UTF8.GetBytes($$"""{"alg":"{{Algorithm}}","kid":"{{keyId}}"}"""));
        string signingInput = header + "." + Base64Url.EncodeToString(payload);
        byte[] signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>
    /// Checks <paramref name="document"/> against <paramref name="trustedKeys"/>. On success the payload
    /// (the configuration JSON) is returned; <paramref name="keyId"/> is the header's "kid" whenever one was read.
    /// </summary>
    public static SignatureCheck Verify(string document, IReadOnlyList<TrustedKey> trustedKeys, out byte[] payload, out string? keyId)
    {
        payload = [];
        keyId = null;
        string text = document.Trim();
        int firstDot = text.IndexOf('.', StringComparison.Ordinal);
        int secondDot = firstDot < 0 ? -1 : text.IndexOf('.', firstDot + 1);
        if (firstDot <= 0 || secondDot < 0 || text.IndexOf('.', secondDot + 1) >= 0)
        {
            return SignatureCheck.Malformed;
        }
        if (!TryDecode(text.AsSpan(0, firstDot), out byte[] header)
            || !TryDecode(text.AsSpan(firstDot + 1, secondDot - firstDot - 1), out byte[] body)
            || !TryDecode(text.AsSpan(secondDot + 1), out byte[] signature))
        {
            return SignatureCheck.Malformed;
        }
        SignatureCheck headerCheck = ReadHeader(header, out keyId);
        if (headerCheck != SignatureCheck.None)
        {
            return headerCheck;
        }
        string id = keyId!;
        TrustedKey? key = trustedKeys.FirstOrDefault(k => string.Equals(k.KeyId, id, StringComparison.Ordinal));
        if (key is null)
        {
            return SignatureCheck.UnknownKey;
        }
        if (signature.Length != SignatureLength || !key.Verify(Encoding.ASCII.GetBytes(text[..secondDot]), signature))
        {
            return SignatureCheck.BadSignature;
        }
        payload = body;
        return SignatureCheck.None;
    }

    /// <summary>Reads the payload without checking anything: for tools that say what a document holds.</summary>
    public static bool TryReadPayloadUnverified(string document, out byte[] payload)
    {
        payload = [];
        string[] parts = document.Trim().Split('.');
        return parts.Length == 3 && TryDecode(parts[1], out payload);
    }

    public static string Describe(SignatureCheck check, string? keyId) => check switch
    {
        SignatureCheck.None => "signature good",
        SignatureCheck.Malformed => "not a signed document (expected a JWS in compact form: three base64url parts joined by dots)",
        SignatureCheck.UnsupportedAlgorithm => "signed with an algorithm other than ES256, or with a critical header this box does not know",
        SignatureCheck.UnknownKey => $"signed by key \"{keyId}\", which is not in cloud.trustedKeys",
        _ => $"bad signature (key \"{keyId}\"): the document was changed after signing, or signed by another key with that id",
    };

    private static SignatureCheck ReadHeader(byte[] header, out string? keyId)
    {
        keyId = null;
        try
        {
            using JsonDocument json = JsonDocument.Parse(header);
            JsonElement root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return SignatureCheck.Malformed;
            }
            if (root.TryGetProperty("kid", out JsonElement kid) && kid.ValueKind == JsonValueKind.String)
            {
                keyId = kid.GetString();
            }
            // RFC 7515 §4.1.11: a "crit" header names extensions that must be understood: none are, here.
            if (!root.TryGetProperty("alg", out JsonElement alg) || alg.ValueKind != JsonValueKind.String
                || alg.GetString() != Algorithm || root.TryGetProperty("crit", out _))
            {
                return SignatureCheck.UnsupportedAlgorithm;
            }
            return keyId is null ? SignatureCheck.Malformed : SignatureCheck.None;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string that is not text (invalid UTF-8, a lone surrogate escape).
            keyId = null;
            return SignatureCheck.Malformed;
        }
    }

    private static bool TryDecode(ReadOnlySpan<char> part, out byte[] bytes)
    {
        bytes = [];
        if (!Base64Url.IsValid(part, out int length))
        {
            return false;
        }
        bytes = new byte[length];
        return Base64Url.TryDecodeFromChars(part, bytes, out int written) && written == length;
    }
}
