using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using EdgeRelay.Appliance.Cloud;

namespace EdgeRelay.Appliance.Tests.Cloud;

/// <summary>The cloud document's JWS (compact, ES256) and the keys that may sign it.</summary>
public sealed class SignedDocumentTests : IDisposable
{
    // Made outside .NET, with openssl (key, ECDSA signature) and Python (base64url, SHA-256 for the
    // key id), so that a document from any JWS tool is known to verify; its header puts "kid" first.
    private const string OpensslKey = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1VQcPC0YqbJ1+dW+xe1pc7TkMJSH03akrITZHWi5o86elHTtMc+Bzt/3cubFJ/Nb2CGxNfRMGrtljE2Zb97gUA==";
    private const string OpensslKeyId = "v7R80O5YizzxcZVr";
    private const string OpensslDocument =
        "eyJraWQiOiJ2N1I4ME81WWl6enhjWlZyIiwiYWxnIjoiRVMyNTYifQ"
        + ".eyJ2ZXJzaW9uIjo0MiwicmVhbG0iOiJ2ZW51ZS5leGFtcGxlLm5ldCIsImF1dGgiOnsidXNlcnMiOnsiYWxpY2UiOiJjb3JyZWN0IGhvcnNlIGJhdHRlcnkgc3RhcGxlIn19fQ"
        + ".GcdaKDqznZWXJIBMs1wYTzqhuaA-qAqUDGFE6qouMp7RjQeoKCXdCktIlJIZ-mzMet25xu2_pUgMMHsZs1iNzQ";
    private const string OpensslPayload = """{"version":42,"realm":"venue.example.net","auth":{"users":{"alice":"correct horse battery staple"}}}""";

    private static readonly byte[] Payload = Encoding.UTF8.GetBytes("""{"version":7,"realm":"venue.example.net","auth":{"users":{"zoë":"pässwörd ✓"}}}""");

    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public void Dispose()
    {
        _key.Dispose();
        _otherKey.Dispose();
    }

    private TrustedKey Trusted => TrustedKey.FromSigningKey(_key);

    private static string Encode(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));

    /// <summary>A compact JWS with any header, signed by <paramref name="key"/> as ES256 would be.</summary>
    private static string SignWithHeader(string header, ReadOnlySpan<byte> payload, ECDsa key)
    {
        string signingInput = Encode(header) + "." + Base64Url.EncodeToString(payload);
        byte[] signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    private static SignatureCheck Check(string document, params TrustedKey[] keys) => SignedDocument.Verify(document, keys, out _, out _);

    [Fact]
    public void A_signed_document_verifies_and_gives_back_the_payload_bytes_unchanged_and_the_signers_key_id()
    {
        string document = SignedDocument.Sign(Payload, _key);

        SignatureCheck check = SignedDocument.Verify(document, [Trusted], out byte[] payload, out string? keyId);

        Assert.Equal(SignatureCheck.None, check);
        Assert.Equal(Payload, payload);
        Assert.Equal(Trusted.KeyId, keyId);
    }

    [Fact]
    public void Any_payload_bytes_survive_signing_not_only_JSON()
    {
        byte[] every = Enumerable.Range(0, 256).Select(b => (byte)b).ToArray();

        Assert.Equal(SignatureCheck.None, SignedDocument.Verify(SignedDocument.Sign(every, _key), [Trusted], out byte[] payload, out _));
        Assert.Equal(every, payload);
        Assert.Equal(SignatureCheck.None, SignedDocument.Verify(SignedDocument.Sign([], _key), [Trusted], out byte[] empty, out _));
        Assert.Empty(empty);
    }

    [Fact]
    public void The_document_is_a_compact_JWS_with_an_ES256_header_naming_the_key()
    {
        string[] parts = SignedDocument.Sign(Payload, _key).Split('.');

        Assert.Equal(3, parts.Length);
        Assert.Equal($$"""{"alg":"ES256","kid":"{{Trusted.KeyId}}"}""", Encoding.UTF8.GetString(Base64Url.DecodeFromChars(parts[0])));
        Assert.Equal(Payload, Base64Url.DecodeFromChars(parts[1]));
        // RFC 7518 §3.4: R || S, 32 bytes each; base64url without padding (RFC 7515 §2).
        Assert.Equal(64, Base64Url.DecodeFromChars(parts[2]).Length);
        Assert.DoesNotContain('=', string.Concat(parts));
    }

    [Fact]
    public void A_document_made_by_openssl_verifies()
    {
        TrustedKey key = TrustedKey.Parse(OpensslKey);

        SignatureCheck check = SignedDocument.Verify(OpensslDocument, [key], out byte[] payload, out string? keyId);

        Assert.Equal(OpensslKeyId, key.KeyId);
        Assert.Equal(SignatureCheck.None, check);
        Assert.Equal(OpensslKeyId, keyId);
        Assert.Equal(OpensslPayload, Encoding.UTF8.GetString(payload));
    }

    [Fact]
    public void Surrounding_whitespace_such_as_a_final_newline_is_ignored()
    {
        string document = SignedDocument.Sign(Payload, _key);

        Assert.Equal(SignatureCheck.None, Check("\n " + document + "\r\n", Trusted));
    }

    [Fact]
    public void A_changed_payload_is_a_bad_signature()
    {
        string[] parts = SignedDocument.Sign(Payload, _key).Split('.');
        byte[] changed = Payload.ToArray();
        changed[^3] ^= 0x01;

        SignatureCheck check = SignedDocument.Verify($"{parts[0]}.{Base64Url.EncodeToString(changed)}.{parts[2]}", [Trusted], out byte[] payload, out string? keyId);

        Assert.Equal(SignatureCheck.BadSignature, check);
        Assert.Empty(payload);
        Assert.Equal(Trusted.KeyId, keyId);
    }

    [Fact]
    public void Every_one_character_change_to_the_header_or_payload_is_refused()
    {
        string document = SignedDocument.Sign(Payload, _key);
        int signatureStart = document.LastIndexOf('.') + 1;
        var refusals = new HashSet<SignatureCheck>();

        for (int i = 0; i < signatureStart - 1; i++)
        {
            if (document[i] == '.')
            {
                continue;
            }
            char other = document[i] == 'A' ? 'B' : 'A';
            SignatureCheck check = Check(document[..i] + other + document[(i + 1)..], Trusted);
            Assert.NotEqual(SignatureCheck.None, check);
            refusals.Add(check);
        }

        // The header's bytes may stop being JSON, or name another key or algorithm; the payload's cannot pass.
        Assert.Contains(SignatureCheck.BadSignature, refusals);
    }

    [Fact]
    public void A_header_changed_but_still_valid_is_a_bad_signature()
    {
        string[] parts = SignedDocument.Sign(Payload, _key).Split('.');
        string header = Encode($$"""{"alg":"ES256","kid":"{{Trusted.KeyId}}","typ":"JWT"}""");

        Assert.Equal(SignatureCheck.BadSignature, Check($"{header}.{parts[1]}.{parts[2]}", Trusted));
    }

    [Fact]
    public void A_changed_truncated_or_lengthened_signature_is_a_bad_signature()
    {
        string[] parts = SignedDocument.Sign(Payload, _key).Split('.');
        byte[] signature = Base64Url.DecodeFromChars(parts[2]);
        string WithSignature(byte[] bytes) => $"{parts[0]}.{parts[1]}.{Base64Url.EncodeToString(bytes)}";

        for (int i = 0; i < signature.Length; i += 7)
        {
            byte[] flipped = signature.ToArray();
            flipped[i] ^= 0x80;
            Assert.Equal(SignatureCheck.BadSignature, Check(WithSignature(flipped), Trusted));
        }
        Assert.Equal(SignatureCheck.BadSignature, Check(WithSignature(signature[..63]), Trusted));
        Assert.Equal(SignatureCheck.BadSignature, Check(WithSignature([.. signature, 0]), Trusted));
        Assert.Equal(SignatureCheck.BadSignature, Check(WithSignature(new byte[64]), Trusted));
        Assert.Equal(SignatureCheck.BadSignature, Check(WithSignature(Enumerable.Repeat((byte)0xFF, 64).ToArray()), Trusted));
        Assert.Equal(SignatureCheck.BadSignature, Check($"{parts[0]}.{parts[1]}.", Trusted));
    }

    [Fact]
    public void A_signature_in_DER_rather_than_R_and_S_is_a_bad_signature()
    {
        string signingInput = Encode($$"""{"alg":"ES256","kid":"{{Trusted.KeyId}}"}""") + "." + Base64Url.EncodeToString(Payload);
        byte[] der = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);

        Assert.Equal(SignatureCheck.BadSignature, Check($"{signingInput}.{Base64Url.EncodeToString(der)}", Trusted));
    }

    [Fact]
    public void A_key_id_that_is_not_trusted_is_an_unknown_key_and_is_reported()
    {
        string document = SignedDocument.Sign(Payload, _otherKey);

        SignatureCheck check = SignedDocument.Verify(document, [Trusted], out byte[] payload, out string? keyId);

        Assert.Equal(SignatureCheck.UnknownKey, check);
        Assert.Empty(payload);
        Assert.Equal(TrustedKey.FromSigningKey(_otherKey).KeyId, keyId);
        Assert.Equal(SignatureCheck.UnknownKey, Check(document));
    }

    [Fact]
    public void Another_key_that_claims_the_trusted_keys_id_is_a_bad_signature()
    {
        string forged = SignWithHeader($$"""{"alg":"ES256","kid":"{{Trusted.KeyId}}"}""", Payload, _otherKey);

        Assert.Equal(SignatureCheck.BadSignature, Check(forged, Trusted));
    }

    [Fact]
    public void During_a_rotation_documents_signed_by_either_trusted_key_verify()
    {
        TrustedKey current = Trusted;
        TrustedKey next = TrustedKey.FromSigningKey(_otherKey);

        foreach (TrustedKey[] keys in new[] { new[] { current, next }, new[] { next, current } })
        {
            Assert.Equal(SignatureCheck.None, SignedDocument.Verify(SignedDocument.Sign(Payload, _key), keys, out _, out string? byCurrent));
            Assert.Equal(SignatureCheck.None, SignedDocument.Verify(SignedDocument.Sign(Payload, _otherKey), keys, out _, out string? byNext));
            Assert.Equal(current.KeyId, byCurrent);
            Assert.Equal(next.KeyId, byNext);
        }
        // Once the old key is retired, what it signs is refused.
        Assert.Equal(SignatureCheck.UnknownKey, Check(SignedDocument.Sign(Payload, _key), next));
    }

    [Theory]
    [InlineData("""{"alg":"none","kid":"KID"}""")]
    [InlineData("""{"alg":"None","kid":"KID"}""")]
    [InlineData("""{"alg":"HS256","kid":"KID"}""")]
    [InlineData("""{"alg":"RS256","kid":"KID"}""")]
    [InlineData("""{"alg":"ES384","kid":"KID"}""")]
    [InlineData("""{"alg":"es256","kid":"KID"}""")]
    [InlineData("""{"alg":"ES256 ","kid":"KID"}""")]
    [InlineData("""{"alg":256,"kid":"KID"}""")]
    [InlineData("""{"alg":null,"kid":"KID"}""")]
    [InlineData("""{"alg":["ES256"],"kid":"KID"}""")]
    [InlineData("""{"kid":"KID"}""")]
    public void Any_algorithm_but_ES256_is_unsupported_even_with_a_valid_ES256_signature(string header)
    {
        string document = SignWithHeader(header.Replace("KID", Trusted.KeyId, StringComparison.Ordinal), Payload, _key);

        Assert.Equal(SignatureCheck.UnsupportedAlgorithm, Check(document, Trusted));
    }

    [Fact]
    public void An_unsigned_alg_none_document_is_unsupported()
    {
        // RFC 7519 §6.1: an unsecured JWS has an empty signature.
        string document = Encode($$"""{"alg":"none","kid":"{{Trusted.KeyId}}"}""") + "." + Base64Url.EncodeToString(Payload) + ".";

        Assert.Equal(SignatureCheck.UnsupportedAlgorithm, SignedDocument.Verify(document, [Trusted], out byte[] payload, out _));
        Assert.Empty(payload);
    }

    [Fact]
    public void An_HS256_document_keyed_with_the_public_key_is_unsupported()
    {
        // The classic confusion: an HMAC keyed with the verifier's public key, which anyone has.
        string signingInput = Encode($$"""{"alg":"HS256","kid":"{{Trusted.KeyId}}"}""") + "." + Base64Url.EncodeToString(Payload);
        byte[] mac = HMACSHA256.HashData(Convert.FromBase64String(Trusted.ToString()), Encoding.ASCII.GetBytes(signingInput));

        Assert.Equal(SignatureCheck.UnsupportedAlgorithm, Check($"{signingInput}.{Base64Url.EncodeToString(mac)}", Trusted));
    }

    [Theory]
    [InlineData("""{"alg":"ES256","kid":"KID","crit":["exp"],"exp":1700000000}""")]
    [InlineData("""{"alg":"ES256","kid":"KID","crit":[]}""")]
    [InlineData("""{"alg":"ES256","kid":"KID","crit":"b64"}""")]
    public void A_critical_header_is_unsupported_even_with_a_valid_signature(string header)
    {
        // RFC 7515 §4.1.11: a recipient that does not understand a critical extension must refuse the JWS.
        string document = SignWithHeader(header.Replace("KID", Trusted.KeyId, StringComparison.Ordinal), Payload, _key);

        Assert.Equal(SignatureCheck.UnsupportedAlgorithm, Check(document, Trusted));
    }

    [Fact]
    public void Other_header_fields_that_are_not_critical_are_accepted_with_a_valid_signature()
    {
        string document = SignWithHeader($$$"""{"typ":"JWT","kid":"{{{Trusted.KeyId}}}","alg":"ES256","x-note":{"a":[1,2]}}""", Payload, _key);

        Assert.Equal(SignatureCheck.None, Check(document, Trusted));
    }

    [Theory]
    [InlineData("""{"alg":"ES256"}""")]
    [InlineData("""{"alg":"ES256","kid":7}""")]
    [InlineData("""{"alg":"ES256","kid":null}""")]
    [InlineData("""[]""")]
    [InlineData("""["alg","ES256"]""")]
    [InlineData("\"ES256\"")]
    [InlineData("null")]
    [InlineData("{")]
    [InlineData("")]
    [InlineData("{\"alg\":\"ES256\",\"kid\":\"KID\"} trailing")]
    public void A_header_that_is_not_an_object_naming_a_key_is_malformed(string header)
    {
        string document = SignWithHeader(header.Replace("KID", Trusted.KeyId, StringComparison.Ordinal), Payload, _key);

        Assert.Equal(SignatureCheck.Malformed, Check(document, Trusted));
    }

    [Fact]
    public void A_header_of_bytes_that_are_not_UTF8_is_malformed()
    {
        string signingInput = Base64Url.EncodeToString([0x7B, 0xFF, 0xFE, 0x7D]) + "." + Base64Url.EncodeToString(Payload);
        byte[] signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

        Assert.Equal(SignatureCheck.Malformed, Check($"{signingInput}.{Base64Url.EncodeToString(signature)}", Trusted));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("\n")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("...")]
    [InlineData("abc")]
    [InlineData("abc.def")]
    [InlineData("abc.def.ghi.jkl")]
    [InlineData("abc.def.ghi.")]
    [InlineData(".def.ghi")]
    [InlineData("{\"alg\":\"ES256\"}")]
    public void Anything_but_three_dot_separated_parts_with_a_header_is_malformed(string text)
    {
        SignatureCheck check = SignedDocument.Verify(text, [Trusted], out byte[] payload, out string? keyId);

        Assert.Equal(SignatureCheck.Malformed, check);
        Assert.Empty(payload);
        Assert.Null(keyId);
    }

    [Theory]
    [InlineData(0, "$")]
    [InlineData(1, "$")]
    [InlineData(2, "$")]
    [InlineData(1, "+")]
    [InlineData(1, "/")]
    [InlineData(0, "é")]
    [InlineData(2, "*")]
    public void A_part_that_is_not_base64url_is_malformed(int part, string inserted)
    {
        string[] parts = SignedDocument.Sign(Payload, _key).Split('.');
        parts[part] = parts[part][..(parts[part].Length / 2)] + inserted + parts[part][(parts[part].Length / 2)..];

        Assert.Equal(SignatureCheck.Malformed, Check(string.Join('.', parts), Trusted));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void A_part_of_4n_plus_1_characters_cannot_be_base64url_and_is_malformed(int part)
    {
        string[] parts = SignedDocument.Sign(Payload, _key).Split('.');
        while (parts[part].Length % 4 != 1)
        {
            parts[part] += "A";
        }

        Assert.Equal(SignatureCheck.Malformed, Check(string.Join('.', parts), Trusted));
    }

    [Fact]
    public void A_megabyte_of_random_bytes_or_random_base64url_is_malformed_and_does_not_throw()
    {
        var random = new Random(8656);
        byte[] bytes = new byte[1 << 20];
        random.NextBytes(bytes);
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        string base64ish = string.Create(1 << 20, random, (chars, r) =>
        {
            for (int i = 0; i < chars.Length; i++)
            {
                chars[i] = alphabet[r.Next(alphabet.Length)];
            }
        });
        char[] withDots = base64ish.ToCharArray();
        withDots[1000] = '.';
        withDots[700_000] = '.';

        Assert.Equal(SignatureCheck.Malformed, Check(Encoding.Latin1.GetString(bytes), Trusted));
        Assert.Equal(SignatureCheck.Malformed, Check(base64ish, Trusted));
        // Three parts of valid base64url: the header decodes to bytes that are not JSON.
        Assert.Equal(SignatureCheck.Malformed, Check(new string(withDots), Trusted));
    }

    [Fact]
    public void Random_mutations_of_a_signed_document_never_throw_and_never_pass_with_another_payload()
    {
        string document = SignedDocument.Sign(Payload, _key);
        TrustedKey[] keys = [Trusted, TrustedKey.FromSigningKey(_otherKey)];
        const string characters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ {}\"\\\0é\uD800";
        var random = new Random(8489);
        var seen = new Dictionary<SignatureCheck, int>();

        for (int round = 0; round < 3000; round++)
        {
            var text = new StringBuilder(document);
            int mutations = 1 + random.Next(4);
            for (int m = 0; m < mutations && text.Length > 0; m++)
            {
                int at = random.Next(text.Length);
                switch (random.Next(6))
                {
                    case 0: text[at] = characters[random.Next(characters.Length)]; break;
                    case 1: text.Insert(at, characters[random.Next(characters.Length)]); break;
                    case 2: text.Remove(at, 1); break;
                    case 3: text.Length = at; break;
                    case 4:
                        int from = random.Next(text.Length);
                        text.Insert(at, text.ToString(from, Math.Min(40, text.Length - from)));
                        break;
                    default: text[at] = (char)(text[at] ^ (1 << random.Next(7))); break;
                }
            }
            string mutated = text.ToString();

            SignatureCheck check = SignedDocument.Verify(mutated, keys, out byte[] payload, out _);

            seen[check] = seen.GetValueOrDefault(check) + 1;
            if (check == SignatureCheck.None)
            {
                // Only a change the signature does not cover (such as whitespace in the signature part) may pass,
                // and then with the payload that was signed.
                Assert.Equal(Payload, payload);
            }
            else
            {
                Assert.Empty(payload);
            }
        }

        Assert.True(seen.GetValueOrDefault(SignatureCheck.BadSignature) > 100, $"mutations mostly ended elsewhere: {string.Join(", ", seen)}");
        Assert.True(seen.GetValueOrDefault(SignatureCheck.Malformed) > 100, $"mutations mostly ended elsewhere: {string.Join(", ", seen)}");
    }

    [Fact]
    public void Random_changes_to_the_header_of_a_validly_signed_document_never_throw()
    {
        byte[] header = Encoding.UTF8.GetBytes($$"""{"alg":"ES256","kid":"{{Trusted.KeyId}}"}""");
        const string characters = "{}[]\\\":,.0123456789 -+eEtrufalsnl\\u\u00e9\u00ff\u0080";
        var random = new Random(7518);

        for (int round = 0; round < 3000; round++)
        {
            byte[] mutated = header.ToArray();
            for (int m = 1 + random.Next(3); m > 0; m--)
            {
                int at = random.Next(mutated.Length);
                mutated[at] = random.Next(3) switch
                {
                    0 => (byte)characters[random.Next(characters.Length)],
                    1 => (byte)(mutated[at] ^ (1 << random.Next(8))),
                    _ => (byte)random.Next(256),
                };
            }
            string signingInput = Base64Url.EncodeToString(mutated) + "." + Base64Url.EncodeToString(Payload);
            string document = signingInput + "." + Base64Url.EncodeToString(
                _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));

            SignatureCheck check = SignedDocument.Verify(document, [Trusted], out byte[] payload, out _);
            Assert.Equal(check == SignatureCheck.None ? Payload : [], payload);
        }
    }

    [Theory]
    [InlineData("{\"alg\":\"ES256\",\"kid\":\"\\uD800\"}")]
    [InlineData("{\"alg\":\"\\uDC00\",\"kid\":\"KID\"}")]
    [InlineData("{\"alg\":\"ES256\",\"kid\":\"\\uD800\\u0041\"}")]
    public void A_header_whose_strings_are_not_text_is_malformed_not_an_exception(string header)
    {
        // Nothing needs a key for this: anyone who can answer the box's poll could stop its cloud
        // configuration (CloudPuller.PollNowAsync does not catch it), and a stored file damaged this way
        // would stop LastKnownGoodStore.Load, which must never throw, at start-up.
        string escaped = SignWithHeader(header.Replace("KID", Trusted.KeyId, StringComparison.Ordinal), Payload, _key);
        string signingInput = Base64Url.EncodeToString([.. "{\"alg\":\"ES256\",\"kid\":\""u8, 0xC3, 0x28, .. "\"}"u8]) + "." + Base64Url.EncodeToString(Payload);
        string invalidUtf8 = signingInput + "." + Base64Url.EncodeToString(
            _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));

        Assert.Equal(SignatureCheck.Malformed, Check(escaped, Trusted));
        Assert.Equal(SignatureCheck.Malformed, Check(invalidUtf8, Trusted));
    }

    [Fact]
    public void A_trusted_key_reads_from_base64_of_its_SubjectPublicKeyInfo_or_from_PEM_with_the_same_id()
    {
        string base64 = Convert.ToBase64String(_key.ExportSubjectPublicKeyInfo());
        string pem = _key.ExportSubjectPublicKeyInfoPem();

        TrustedKey fromBase64 = TrustedKey.Parse(base64);
        TrustedKey fromPem = TrustedKey.Parse(pem);
        TrustedKey fromIndentedPem = TrustedKey.Parse("\n  " + pem + "\n\n");

        Assert.Equal(Trusted.KeyId, fromBase64.KeyId);
        Assert.Equal(Trusted.KeyId, fromPem.KeyId);
        Assert.Equal(Trusted.KeyId, fromIndentedPem.KeyId);
        Assert.Equal(base64, fromPem.ToString());
        Assert.Equal(base64, TrustedKey.Parse(" " + base64 + "\n").ToString());
        // Either form verifies what the key signed.
        Assert.Equal(SignatureCheck.None, Check(SignedDocument.Sign(Payload, _key), fromPem));
    }

    [Fact]
    public void The_key_id_is_16_base64url_characters_of_SHA256_over_the_SubjectPublicKeyInfo_and_stable()
    {
        byte[] spki = Convert.FromBase64String(OpensslKey);

        // Pinned: documents signed in the cloud name their key by this id, so it must never change.
        Assert.Equal(OpensslKeyId, TrustedKey.Parse(OpensslKey).KeyId);
        Assert.Equal(OpensslKeyId, TrustedKey.KeyIdOf(spki));
        Assert.Equal(OpensslKeyId, Base64Url.EncodeToString(SHA256.HashData(spki)[..12]));
        for (int i = 0; i < 20; i++)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            string id = TrustedKey.FromSigningKey(key).KeyId;
            Assert.Equal(16, id.Length);
            Assert.Matches("^[A-Za-z0-9_-]{16}$", id);
            Assert.Equal(id, TrustedKey.Parse(key.ExportSubjectPublicKeyInfoPem()).KeyId);
        }
        Assert.NotEqual(Trusted.KeyId, TrustedKey.FromSigningKey(_otherKey).KeyId);
    }

    [Fact]
    public void An_RSA_key_is_refused_saying_an_ECDSA_P256_key_is_expected()
    {
        using var rsa = RSA.Create(2048);

        FormatException fromBase64 = Assert.Throws<FormatException>(() => TrustedKey.Parse(Convert.ToBase64String(rsa.ExportSubjectPublicKeyInfo())));
        FormatException fromPem = Assert.Throws<FormatException>(() => TrustedKey.Parse(rsa.ExportSubjectPublicKeyInfoPem()));

        Assert.Contains("ECDSA P-256", fromBase64.Message, StringComparison.Ordinal);
        Assert.Contains("ECDSA P-256", fromPem.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("nistP384")]
    [InlineData("nistP521")]
    public void A_key_on_another_curve_is_refused_saying_P256_is_expected(string curve)
    {
        using var key = ECDsa.Create(ECCurve.CreateFromFriendlyName(curve));

        FormatException fromBase64 = Assert.Throws<FormatException>(() => TrustedKey.Parse(Convert.ToBase64String(key.ExportSubjectPublicKeyInfo())));
        FormatException fromPem = Assert.Throws<FormatException>(() => TrustedKey.Parse(key.ExportSubjectPublicKeyInfoPem()));

        Assert.Contains("P-256", fromBase64.Message, StringComparison.Ordinal);
        Assert.Contains("P-256", fromPem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_private_key_or_certificate_PEM_is_refused_saying_a_PUBLIC_KEY_block_is_expected()
    {
        FormatException privateKey = Assert.Throws<FormatException>(() => TrustedKey.Parse(_key.ExportPkcs8PrivateKeyPem()));
        FormatException ecPrivateKey = Assert.Throws<FormatException>(() => TrustedKey.Parse(_key.ExportECPrivateKeyPem()));

        Assert.Contains("\"PUBLIC KEY\"", privateKey.Message, StringComparison.Ordinal);
        Assert.Contains("\"PUBLIC KEY\"", ecPrivateKey.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not base64 at all!")]
    [InlineData("AAAA")]
    [InlineData("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----")]
    public void Text_that_is_not_a_key_is_refused_with_a_FormatException_saying_what_is_expected(string text)
    {
        FormatException e = Assert.Throws<FormatException>(() => TrustedKey.Parse(text));

        Assert.Contains("expected", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_with_bytes_after_its_SubjectPublicKeyInfo_is_refused()
    {
        string padded = Convert.ToBase64String([.. _key.ExportSubjectPublicKeyInfo(), 0, 0, 0]);

        Assert.Throws<FormatException>(() => TrustedKey.Parse(padded));
    }
}
