using System.Buffers.Binary;
using System.Text;
using EdgeRelay.Stun;
using EdgeRelay.Turn.Auth;

namespace EdgeRelay.Turn;

public sealed partial class TurnServer
{
    /// <summary>
    /// PASSWORD-ALGORITHMS as this server offers them, in order of preference (RFC 8489 §14.11):
    /// SHA-256, then MD5 for the clients of RFC 5389. Each entry: algorithm, parameter length 0.
    /// </summary>
    private static ReadOnlySpan<byte> OfferedPasswordAlgorithms => [0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];

    /// <summary>Who sent an authenticated request, and the key to sign the response with.</summary>
    private readonly struct AuthContext(string username, byte[]? key, bool respondWithSha256, bool authenticated)
    {
        public string Username { get; } = username;
        public byte[]? Key { get; } = key;
        public bool RespondWithSha256 { get; } = respondWithSha256;
        public bool IsAuthenticated { get; } = authenticated;
    }

    /// <summary>
    /// The long-term credential checks of RFC 8489 §9.2.4, in the RFC's order. Returns 0 when the request
    /// is authenticated, the length of the error response written into <paramref name="response"/>, or -1
    /// when the request is not answered at all: its address has had its challenges, or its user name its
    /// failed logins, for now (see TurnServer.RateLimits.cs).
    /// </summary>
    private int Authenticate(in FiveTuple fiveTuple, in StunMessageReader request, Span<byte> response, out AuthContext auth)
    {
        auth = default;
        // Step 1: no integrity at all is the client's first try: challenge it.
        if (!request.HasMessageIntegrity && !request.HasMessageIntegritySha256)
        {
            if (_options.AllowAnonymous)
            {
                auth = new AuthContext(string.Empty, null, respondWithSha256: false, authenticated: true);
                return 0;
            }
            return Reject(fiveTuple, request, response, StunErrorCode.Unauthenticated, AuthFailure.MissingIntegrity, string.Empty);
        }

        // Step 2: integrity without the attributes that say whose it is.
        bool hasUsername = request.TryGetAttribute(StunAttributeType.Username, out ReadOnlySpan<byte> usernameBytes);
        bool hasUserhash = request.TryGetAttribute(StunAttributeType.Userhash, out ReadOnlySpan<byte> userhash);
        if ((!hasUsername && !hasUserhash)
            || !request.TryGetAttribute(StunAttributeType.Realm, out ReadOnlySpan<byte> realm)
            || !request.TryGetAttribute(StunAttributeType.Nonce, out ReadOnlySpan<byte> nonce)
            || usernameBytes.Length > StunConstants.MaxRealmOrNonceLength)
        {
            return Reject(fiveTuple, request, response, StunErrorCode.BadRequest, AuthFailure.MissingAttributes, string.Empty);
        }

        // Step 3: the password algorithm, when our nonce cookie offered the choice.
        PasswordAlgorithm algorithm = PasswordAlgorithm.Md5;
        bool negotiated = false;
        if (nonce.StartsWith(NonceService.Cookie))
        {
            bool hasAlgorithms = request.TryGetAttribute(StunAttributeType.PasswordAlgorithms, out ReadOnlySpan<byte> algorithms);
            bool hasAlgorithm = request.TryGetAttribute(StunAttributeType.PasswordAlgorithm, out ReadOnlySpan<byte> chosen);
            if (hasAlgorithms || hasAlgorithm)
            {
                if (!hasAlgorithms || !hasAlgorithm || !algorithms.SequenceEqual(OfferedPasswordAlgorithms)
                    || !TryReadPasswordAlgorithm(chosen, out algorithm))
                {
                    return Reject(fiveTuple, request, response, StunErrorCode.BadRequest, AuthFailure.BadPasswordAlgorithm, string.Empty);
                }
                negotiated = true;
            }
        }

        // Step 4: a user we know, in our realm.
        string username;
        if (hasUsername)
        {
            username = Encoding.UTF8.GetString(usernameBytes);
        }
        else
        {
            username = _credentials.FindUsernameByHash(userhash) ?? string.Empty;
            if (username.Length == 0)
            {
                return Reject(fiveTuple, request, response, StunErrorCode.Unauthenticated, AuthFailure.UnknownUser, "(userhash)");
            }
        }
        if (!realm.SequenceEqual(_credentials.RealmBytes))
        {
            return Reject(fiveTuple, request, response, StunErrorCode.Unauthenticated, AuthFailure.WrongRealm, username);
        }
        // A user name that has had its failed logins is not tried again from a new five-tuple until its bucket
        // refills, right password or not: a guesser learns nothing, and spends nothing of ours on HMACs.
        long now = _clock.NowMs;
        if (IsLoginLimited(fiveTuple, username, now))
        {
            return -1;
        }

        // Step 5: the integrity check. MESSAGE-INTEGRITY-SHA256 wins when both are present.
        bool sha256 = request.HasMessageIntegritySha256;
        int integrityOffset = sha256 ? request.MessageIntegritySha256Offset : request.MessageIntegrityOffset;
        // TURN REST expiry is wall time (draft-uberti-behave-turn-rest-00 §2.2): judged by the best time the
        // appliance has, which is the cloud's when the box's own clock is not synchronised.
        WallTime wall = WallClock.Now;
        AuthFailure failure = _credentials.Verify(request.Message, integrityOffset, sha256, username, algorithm, wall.UtcNow, out byte[]? key);
        if (failure != AuthFailure.None)
        {
            if (failure == AuthFailure.BadIntegrity)
            {
                CountFailedLogin(username, now);
            }
            else if (failure is AuthFailure.RestCredentialExpired or AuthFailure.RestCredentialTooFarAhead && !wall.Trusted)
            {
                LogRestRefusedByClock(failure, username, wall, now);
            }
            return Reject(fiveTuple, request, response, StunErrorCode.Unauthenticated, failure, username);
        }

        // Step 6: only now is a stale nonce reported, so a client with a wrong password never sees 438.
        NonceValidity validity = _nonces.Validate(nonce, fiveTuple.Client);
        if (validity != NonceValidity.Valid)
        {
            return Reject(fiveTuple, request, response, StunErrorCode.StaleNonce,
                validity == NonceValidity.Stale ? AuthFailure.StaleNonce : AuthFailure.InvalidNonce, username);
        }

        // RFC 8489 §9.2.4: MESSAGE-INTEGRITY-SHA256 in every response, unless the client is of RFC 5389
        // and knows only MESSAGE-INTEGRITY.
        auth = new AuthContext(username, key, respondWithSha256: negotiated || !request.HasMessageIntegrity, authenticated: true);
        return 0;
    }

    /// <summary>How often a REST refusal under a doubtful clock is logged: a fleet of clients retrying must not flood the journal.</summary>
    private const long ClockRefusalLogIntervalMs = 60_000;

    /// <summary>
    /// A REST credential refused for its expiry while the clock is not trusted: most likely the clock, not the
    /// credential, is wrong, and the log says so. Only the expiry (the user name's first field, which says
    /// nothing secret) is logged, at most once a minute.
    /// </summary>
    private void LogRestRefusedByClock(AuthFailure failure, string username, in WallTime wall, long nowMs)
    {
        if (_lastClockRefusalLogMs != long.MinValue && nowMs - _lastClockRefusalLogMs < ClockRefusalLogIntervalMs)
        {
            return;
        }
        _lastClockRefusalLogMs = nowMs;
        if (TurnCredentials.TryParseRestExpiry(username, out long expiry))
        {
            TurnLog.RestRefusedByClock(_logger, failure, DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(expiry, 0, 253402300799)), wall.UtcNow, wall.Source);
        }
    }

    private static bool TryReadPasswordAlgorithm(ReadOnlySpan<byte> value, out PasswordAlgorithm algorithm)
    {
        algorithm = PasswordAlgorithm.Md5;
        if (value.Length != 4 || BinaryPrimitives.ReadUInt16BigEndian(value[2..]) != 0)
        {
            return false;
        }
        algorithm = (PasswordAlgorithm)BinaryPrimitives.ReadUInt16BigEndian(value);
        return algorithm is PasswordAlgorithm.Md5 or PasswordAlgorithm.Sha256;
    }

    /// <summary>
    /// 400, 401 or 438. The 401 and 438 carry REALM, a fresh NONCE and PASSWORD-ALGORITHMS
    /// (RFC 8489 §9.2.4), never USERNAME or integrity; a 400 carries nothing but the code.
    /// </summary>
    private int Reject(in FiveTuple fiveTuple, in StunMessageReader request, Span<byte> response, int code, AuthFailure reason, string username)
    {
        Counters.CountAuthFailure(reason);
        if (code != StunErrorCode.BadRequest && !MayChallenge(fiveTuple, _clock.NowMs))
        {
            return -1;
        }
        if (reason != AuthFailure.MissingIntegrity)
        {
            TurnLog.AuthenticationFailed(_logger, fiveTuple.Client.ToString(), reason, username);
        }
        var writer = BeginError(response, request, code);
        if (code != StunErrorCode.BadRequest)
        {
            writer.AddAttribute(StunAttributeType.Realm, _credentials.RealmBytes);
            Span<byte> nonce = writer.AddAttribute(StunAttributeType.Nonce, NonceService.NonceLength);
            _nonces.Write(fiveTuple.Client, nonce);
            writer.AddAttribute(StunAttributeType.PasswordAlgorithms, OfferedPasswordAlgorithms);
        }
        return Finish(ref writer, request, default);
    }
}
