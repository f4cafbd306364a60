using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace EdgeRelay.Stun;

/// <summary>
/// Key derivation of the long-term credential mechanism, RFC 8489 §9.2.2:
/// key = H(username ":" realm ":" password), H being MD5 (16 bytes) or SHA-256 (32 bytes) as
/// PASSWORD-ALGORITHM says. The password is used as UTF-8 bytes; the OpaqueString profile
/// (RFC 8265) is not applied, as no deployed client applies it either.
/// </summary>
public static class LongTermCredential
{
    public const int Md5KeyLength = 16;
    public const int Sha256KeyLength = 32;

    public static int DeriveKey(PasswordAlgorithm algorithm, ReadOnlySpan<byte> username, ReadOnlySpan<byte> realm,
        ReadOnlySpan<byte> password, Span<byte> key)
    {
        int length = username.Length + 1 + realm.Length + 1 + password.Length;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            Span<byte> input = buffer.AsSpan(0, length);
            username.CopyTo(input);
            input[username.Length] = (byte)':';
            realm.CopyTo(input[(username.Length + 1)..]);
            input[username.Length + 1 + realm.Length] = (byte)':';
            password.CopyTo(input[(username.Length + realm.Length + 2)..]);
            return algorithm == PasswordAlgorithm.Sha256
                ? SHA256.HashData(input, key)
                : MD5.HashData(input, key);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer.AsSpan(0, length));
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public static byte[] DeriveKey(PasswordAlgorithm algorithm, string username, string realm, string password)
    {
        var key = new byte[algorithm == PasswordAlgorithm.Sha256 ? Sha256KeyLength : Md5KeyLength];
        DeriveKey(algorithm, Encoding.UTF8.GetBytes(username), Encoding.UTF8.GetBytes(realm), Encoding.UTF8.GetBytes(password), key);
        return key;
    }

    /// <summary>USERHASH, RFC 8489 §14.4: SHA-256(username ":" realm).</summary>
    public static byte[] ComputeUserhash(string username, string realm) =>
        SHA256.HashData(Encoding.UTF8.GetBytes(username + ":" + realm));
}
