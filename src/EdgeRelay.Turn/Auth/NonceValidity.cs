namespace EdgeRelay.Turn.Auth;

public enum NonceValidity : byte
{
    Valid,

    /// <summary>Ours, but past its lifetime: 438 Stale Nonce (RFC 8489 §9.2.4).</summary>
    Stale,

    /// <summary>Not issued by this server for this client: also answered with 438 and a fresh nonce.</summary>
    Invalid,
}
