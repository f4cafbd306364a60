using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using EdgeRelay.Stun;

namespace EdgeRelay.Turn.Auth;

/// <summary>
/// Who may allocate: long-term users (RFC 8489 §9.2) and TURN REST API shared secrets
/// (draft-uberti-behave-turn-rest: user name <c>EXPIRY[:NAME]</c>, password
/// <c>base64(HMAC-SHA1(secret, user name))</c>). Static users' keys are derived once; their passwords
/// are not kept. Comparisons of MACs are constant-time.
/// </summary>
public sealed class TurnCredentials
{
    private readonly Dictionary<string, UserKeys> _users = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _usernamesByHash = new(StringComparer.Ordinal);
    private readonly byte[][] _sharedSecrets;
    private readonly byte[] _realm;
    private readonly TimeSpan _restMaxValidity;

    public TurnCredentials(string realm, IReadOnlyDictionary<string, string>? users, IReadOnlyList<string>? sharedSecrets,
        TimeSpan restMaxValidity)
    {
        Realm = realm;
        _realm = Encoding.UTF8.GetBytes(realm);
        _restMaxValidity = restMaxValidity;
        foreach ((string name, string password) in users ?? new Dictionary<string, string>())
        {
            _users[name] = new UserKeys(
                LongTermCredential.DeriveKey(PasswordAlgorithm.Md5, name, realm, password),
                LongTermCredential.DeriveKey(PasswordAlgorithm.Sha256, name, realm, password));
            _usernamesByHash[Convert.ToBase64String(LongTermCredential.ComputeUserhash(name, realm))] = name;
        }
        _sharedSecrets = (sharedSecrets ?? []).Select(Encoding.UTF8.GetBytes).ToArray();
    }

    public string Realm { get; }
    public ReadOnlySpan<byte> RealmBytes => _realm;

    /// <summary>
    /// Whether <paramref name="username"/> may still authenticate at all: a static user of this
    /// configuration, or a name of the TURN REST shape while shared secrets exist. Expiry is not looked
    /// at: a REST credential that ran out is refused as before, not treated as a user removed.
    /// </summary>
    public bool MayAuthenticate(string username) =>
        _users.ContainsKey(username) || (_sharedSecrets.Length > 0 && TryParseRestExpiry(username, out _));

    /// <summary>The user name a USERHASH stands for (RFC 8489 §14.4); only static users can be found.</summary>
    public string? FindUsernameByHash(ReadOnlySpan<byte> userhash) =>
        userhash.Length == StunConstants.UserhashLength
        && _usernamesByHash.TryGetValue(Convert.ToBase64String(userhash), out string? name) ? name : null;

    /// <summary>
    /// Checks the message's integrity attribute with every key that may belong to <paramref name="username"/>.
    /// On success, <paramref name="key"/> is the key to sign the response with.
    /// </summary>
    public AuthFailure Verify(ReadOnlySpan<byte> message, int integrityOffset, bool sha256Integrity, string username,
        PasswordAlgorithm algorithm, DateTimeOffset now, out byte[]? key)
    {
        key = null;
        if (_users.TryGetValue(username, out UserKeys? user))
        {
            byte[] candidate = algorithm == PasswordAlgorithm.Sha256 ? user.Sha256Key : user.Md5Key;
            if (VerifyIntegrity(message, integrityOffset, sha256Integrity, candidate))
            {
                key = candidate;
                return AuthFailure.None;
            }
            return AuthFailure.BadIntegrity;
        }
        if (_sharedSecrets.Length == 0)
        {
            return AuthFailure.UnknownUser;
        }

        if (!TryParseRestExpiry(username, out _))
        {
            return AuthFailure.MalformedRestUsername;
        }
        // The integrity first, then the expiry: an expired credential is reported (and, under a doubtful clock,
        // logged) only when it is genuine, so that nobody without the secret can fill the log with expiries.
        byte[] usernameBytes = Encoding.UTF8.GetBytes(username);
        Span<byte> mac = stackalloc byte[HMACSHA1.HashSizeInBytes];
        // Several secrets may be valid at once, so that an operator can rotate them without a flag day.
        foreach (byte[] secret in _sharedSecrets)
        {
            HMACSHA1.HashData(secret, usernameBytes, mac);
            byte[] password = Encoding.ASCII.GetBytes(Convert.ToBase64String(mac));
            byte[] candidate = new byte[algorithm == PasswordAlgorithm.Sha256 ? LongTermCredential.Sha256KeyLength : LongTermCredential.Md5KeyLength];
            LongTermCredential.DeriveKey(algorithm, usernameBytes, _realm, password, candidate);
            CryptographicOperations.ZeroMemory(password);
            if (VerifyIntegrity(message, integrityOffset, sha256Integrity, candidate))
            {
                AuthFailure restCheck = CheckRestExpiry(username, now);
                if (restCheck != AuthFailure.None)
                {
                    CryptographicOperations.ZeroMemory(candidate);
                    return restCheck;
                }
                key = candidate;
                return AuthFailure.None;
            }
        }
        return AuthFailure.BadIntegrity;
    }

    /// <summary>
    /// TURN REST user names start with the expiry as Unix seconds. An expired one is refused, and so is
    /// one that expires implausibly far ahead (a leaked credential must not live for years).
    /// </summary>
    public AuthFailure CheckRestExpiry(string username, DateTimeOffset now)
    {
        if (!TryParseRestExpiry(username, out long expiry))
        {
            return AuthFailure.MalformedRestUsername;
        }
        long nowSeconds = now.ToUnixTimeSeconds();
        if (expiry <= nowSeconds)
        {
            return AuthFailure.RestCredentialExpired;
        }
        if (expiry - nowSeconds > (long)_restMaxValidity.TotalSeconds)
        {
            return AuthFailure.RestCredentialTooFarAhead;
        }
        return AuthFailure.None;
    }

    /// <summary>The expiry in Unix seconds that a TURN REST user name starts with, if it has that shape.</summary>
    internal static bool TryParseRestExpiry(string username, out long expiry)
    {
        int separator = username.IndexOf(':', StringComparison.Ordinal);
        ReadOnlySpan<char> timestamp = separator < 0 ? username : username.AsSpan(0, separator);
        expiry = 0;
        return !timestamp.IsEmpty && timestamp.Length <= 12
            && long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out expiry);
    }

    private static bool VerifyIntegrity(ReadOnlySpan<byte> message, int offset, bool sha256, byte[] key) =>
        sha256 ? StunIntegrity.VerifyMessageIntegritySha256(message, offset, key) : StunIntegrity.VerifyMessageIntegrity(message, offset, key);

    private sealed record UserKeys(byte[] Md5Key, byte[] Sha256Key);
}
